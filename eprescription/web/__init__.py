"""The HTML face of the service: login, and the pages of each role."""

from flask import Flask
from flask_wtf import CSRFProtect

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Enable CSRF protection, page languages and the shared template filters, and register
    the page blueprints."""
    from eprescription.web import (
        admin,
        admin_software,
        auth,
        filters,
        home,
        language,
        own_account,
        patient,
        patient_filters,
        pharmacy,
        prescriber,
    )

    csrf.init_app(app)
    language.init_app(app)
    filters.init_app(app)
    for module in (auth, home, prescriber, pharmacy, patient, patient_filters, admin, own_account):
        app.register_blueprint(module.bp)
    app.register_blueprint(admin_software.bp)

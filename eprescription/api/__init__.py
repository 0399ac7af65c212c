"""The JSON REST API under /api/v1, built with flask-smorest (OpenAPI at /api/openapi.json)."""

from flask import Flask
from flask_smorest import Api

from eprescription.errors import PROBLEM_JSON
from eprescription.models.base import ROW_ID_MAX
from eprescription.schemas.problem import ProblemSchema
from eprescription.url_converters import RowIdConverter

API_SETTINGS = {
    "API_TITLE": "eprescription",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
}


class ProblemApi(Api):
    """flask-smorest, documenting errors as the problem documents eprescription.errors sends."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        """flask-smorest's error responses, in the media type they are sent in (problem+json)."""
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE  # the class's again, for the answers


def init_app(app: Flask) -> None:
    """Register the API blueprints; their CSRF checks are done by api.security instead."""
    from eprescription.api import (
        audit,
        auth,
        docs,
        external_signing,
        fhir,
        health_space,
        medications,
        pharmacy,
        prescriptions,
        renewal_requests,
        trust,
        verify,
    )

    for name, value in API_SETTINGS.items():
        app.config.setdefault(name, value)
    api = ProblemApi(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
        },
    )
    api.register_converter(
        RowIdConverter, lambda _: {"type": "integer", "minimum": 1, "maximum": ROW_ID_MAX}
    )
    csrf = app.extensions["csrf"]  # the pages' CSRFProtect (web.init_app runs first)
    modules = (auth, medications, prescriptions, trust, verify, health_space, pharmacy)
    for module in (*modules, external_signing, renewal_requests, audit, fhir):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)  # a page, outside the document it shows

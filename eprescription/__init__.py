"""The eprescription Flask application factory."""

from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, database, extensions, blueprints, error handlers, CLI."""
    from eprescription import (
        api,
        cli,
        db,
        errors,
        json_answers,
        logs,
        request_guard,
        security_headers,
        throttling,
        url_converters,
        web,
    )
    from eprescription.config import load_config

    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder="web/static",
        template_folder="web/templates",
    )
    app.config.update(load_config(app.instance_path, overrides=config))
    app.json = json_answers.OrjsonProvider(app)
    logs.init_app(app)
    db.init_app(app)
    url_converters.init_app(app)
    request_guard.init_app(app)
    security_headers.init_app(app)
    web.init_app(app)
    api.init_app(app)
    throttling.init_app(app)  # after the blueprints: it wraps their marked views
    errors.init_app(app)
    cli.init_app(app)
    return app

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


_SCOPES = {
    "issue": "review, issue, cancel; decline renewal requests",
    "read": "prescriptions, dispensations, renewal requests, FHIR reads; the catalog",
    "dispense": "scan, card lookup, dispense, reverse",
    "events": "event subscriptions of the software's organisation",
}
OAUTH2_SCHEME = {
    "type": "oauth2",
    "description": "Registered software (flask software register): client_secret_basic, "
    "client_secret_post or private_key_jwt (RFC 7523) at the token URL.",
    "flows": {
        "clientCredentials": {"tokenUrl": "/api/v1/oauth/token", "scopes": _SCOPES},
        "password": {"tokenUrl": "/api/v1/oauth/token", "scopes": _SCOPES},
    },
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
        event_subscriptions,
        external_signing,
        fhir,
        fhir_dispensing,
        fhir_issuing,
        fhir_subscriptions,
        health_space,
        medications,
        oauth,
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
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    # How registered software gets its bearer token (docs/software-clients.md);
                    # each operation's x-software-scope names the scope its token needs.
                    "oauth2": OAUTH2_SCHEME,
                }
            },
        },
    )
    api.register_converter(
        RowIdConverter, lambda _: {"type": "integer", "minimum": 1, "maximum": ROW_ID_MAX}
    )
    csrf = app.extensions["csrf"]  # the pages' CSRFProtect (web.init_app runs first)
    modules = (auth, oauth, medications, prescriptions, trust, verify, health_space, pharmacy)
    fhir_modules = (fhir, fhir_dispensing, fhir_issuing, fhir_subscriptions)
    others = (external_signing, renewal_requests, audit, event_subscriptions)
    for module in (*modules, *others, *fhir_modules):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)  # a page, outside the document it shows

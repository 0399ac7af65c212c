"""The one table that turns errors into HTTP: problem+json for the API, a page for HTML."""

import logging

from flask import Flask, Response, json, make_response, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from eprescription.domain import errors as domain
from eprescription.domain.messages import Message
from eprescription.fhir import outcome as fhir_outcome
from eprescription.fhir import systems as fhir_systems

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
FHIR_PREFIX = "/fhir/"
# Under /fhir the same statuses answer a FHIR OperationOutcome with this issue type.
FHIR_ISSUE_BY_HTTP_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    500: "exception",
    503: "transient",
}

# A row names one kind of error or several (a tuple) that answer with the same status.
ErrorKinds = type[domain.DomainError] | tuple[type[domain.DomainError], ...]
STATUS_BY_ERROR: list[tuple[ErrorKinds, int]] = [
    ((domain.ValidationFailed, domain.CatalogFileRefused), 422),
    (domain.TooManyAttempts, 429),
    ((domain.AuthenticationFailed, domain.AuthenticationRequired), 401),
    (domain.PermissionDenied, 403),
    (domain.NotFound, 404),
    (domain.Conflict, 409),
    (domain.PreconditionFailed, 412),
    (domain.Gone, 410),
    (domain.ConfigurationError, 500),
    (domain.DatabaseUnavailable, 503),
    (domain.DomainError, 400),
]

CODE_BY_HTTP_STATUS = {
    400: "bad_request",
    401: "authentication_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
}


# The statuses of answers that are not errors, by name: views and their OpenAPI documentation
# use these (and status_for), so that an HTTP status is written nowhere but in this module.
OK = 200
CREATED = 201
NO_CONTENT = 204
SEE_OTHER = 303  # after a form's POST: GET this page next (RFC 9110 §15.4.4)


def status_for(error: domain.DomainError | type[domain.DomainError]) -> int:
    """The HTTP status of a domain error, or of a kind of them: the first matching row."""
    kind = error if isinstance(error, type) else type(error)
    return next(status for row, status in STATUS_BY_ERROR if issubclass(kind, row))


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest's, so these win)."""
    app.register_error_handler(domain.DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(DBAPIError, _handle_database_error)
    app.register_error_handler(Exception, _handle_unexpected)


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/fhir/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_JSON])
    return best in ("application/json", PROBLEM_JSON)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: dict | None = None,
    members: dict | None = None,
):
    """An RFC 9457 problem response, a FHIR OperationOutcome under /fhir, or an HTML page;
    `members` are more members of the problem (the OAuth `error` of a token request)."""
    if request.path.startswith(FHIR_PREFIX):
        return _operation_outcome(status, code, title, detail, errors)
    if not _wants_json():
        page = render_template(
            "error.html", status=status, code=code, detail=detail, errors=errors or {}
        )
        return page, status
    body = {
        "type": f"about:blank#{code}" if code else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": _instance(),
    }
    if errors:
        body["errors"] = errors
    body.update(members or {})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    if status == 401:  # RFC 9110: a 401 names the scheme that would be accepted
        # RFC 6749 §5.2: a client that failed to authenticate is told the client's scheme.
        scheme = "Basic" if body.get("error") == "invalid_client" else "Bearer"
        response.headers["WWW-Authenticate"] = f'{scheme} realm="eprescription"'
    return response


def _instance() -> str:
    """The path of the request, or its route's pattern when the path carries a NIR (an old
    address that took one): an answer never repeats a patient identifier."""
    if request.url_rule is not None and "nir" in (request.view_args or {}):
        return request.url_rule.rule
    return request.path


def _operation_outcome(status: int, code: str, title: str, detail: str, errors: dict | None):
    issue_code = FHIR_ISSUE_BY_HTTP_STATUS.get(status, "processing")
    body = fhir_outcome.operation_outcome(issue_code, code, title, detail, errors)
    response = Response(json.dumps(body), status=status, mimetype=fhir_systems.MEDIA_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="eprescription"'
    return response


def _handle_domain_error(error: domain.DomainError):
    # RFC 6749 §5.2: a refused token request also says `error` and `error_description`.
    oauth_error = getattr(error, "oauth_error", None)
    members = {"error": oauth_error, "error_description": error.title} if oauth_error else None
    response = problem(
        status_for(error), error.code, error.title, error.detail, error.errors, members
    )
    if isinstance(error, (domain.TooManyAttempts, domain.DatabaseUnavailable)):
        response = make_response(response)  # RFC 9110 §10.2.3, on pages and JSON alike
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, domain.Gone):  # RFC 8288: where to go instead
        response = make_response(response)
        response.headers["Link"] = f'<{error.successor}>; rel="successor-version"'
    return response


def _handle_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    errors = _flatten_locations(messages) if isinstance(messages, dict) else None
    detail = error.description or error.name
    if detail == type(error).description:  # werkzeug's own sentence: pages word it by status
        detail = Message(f"http_{status}", detail)
    if errors:
        fields = ", ".join(sorted(errors))
        detail = Message("fields_not_valid", "Some fields are not valid: {fields}", fields=fields)
    response = problem(
        status, CODE_BY_HTTP_STATUS.get(status, "http_error"), error.name, detail, errors
    )
    if isinstance(response, Response):
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
    return response


def _flatten_locations(messages: dict) -> dict:
    """webargs nests errors under their location ("json", "query"); callers want the fields."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def _handle_database_error(error: DBAPIError):
    """A lost connection (the pool connects anew for the next call) answers 503; any other
    database error is unexpected."""
    if not error.connection_invalidated:
        return _handle_unexpected(error)
    route = request.url_rule.rule if request.url_rule else "(no route)"
    logger.warning("database connection lost on %s %s", request.method, route)
    return _handle_domain_error(domain.DatabaseUnavailable())


def _handle_unexpected(error: Exception):
    # The route's pattern, not the path: a path may carry a patient's identifier.
    route = request.url_rule.rule if request.url_rule else "(no route)"
    logger.exception("unexpected error on %s %s", request.method, route)
    return problem(
        500,
        "internal_error",
        "Internal server error",
        Message("internal_error", "Something went wrong on our side; it has been logged."),
    )

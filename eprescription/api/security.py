"""Who is calling the API: a bearer token, or the browser session (then with a CSRF token)."""

from collections.abc import Callable

from flask import request, session
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from eprescription import login_sessions
from eprescription.domain.errors import AuthenticationRequired, PermissionDenied
from eprescription.models import Account, Role
from eprescription.services import accounts
from eprescription.use_cases import unit_of_work
from eprescription.view_checks import checked_first

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


CALLER_KEY = "eprescription.caller"


def current_account() -> Account | None:
    """The account behind this request, or None; resolved once per request."""
    # Kept in the WSGI environ, which lives exactly as long as the request (g may outlive it).
    if CALLER_KEY not in request.environ:
        request.environ[CALLER_KEY] = _resolve_account()
    return request.environ[CALLER_KEY]


def _resolve_account() -> Account | None:
    # Read before the request's unit of work opens, on the same session (so in the same
    # transaction): this one is never entered, it ends nothing.
    uow = unit_of_work()
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationRequired("Use 'Authorization: Bearer <token>'.")
        return accounts.account_for_token(uow, token.strip())
    if session.get("account_id") is None:
        return None
    if request.method not in SAFE_METHODS:
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as error:  # what validate_csrf raises (CSRFError is protect()'s)
            raise PermissionDenied("A valid X-CSRFToken header is required.") from error
    return login_sessions.session_account(uow)


def roles_required(*roles: Role) -> Callable:
    """Refuse the call unless an account with one of `roles` is authenticated."""

    def check() -> None:
        account = current_account()
        if account is None:
            raise AuthenticationRequired()
        if account.role not in roles:
            raise PermissionDenied(f"This needs the role {' or '.join(roles)}.")

    return checked_first(check)

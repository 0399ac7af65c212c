"""Who is calling the API: a bearer token (a person's, a software client's for a person, or a
software client's alone), or the browser session (then with a CSRF token)."""

from collections.abc import Callable

from flask import request, session
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from eprescription import login_sessions, throttling
from eprescription.api import scopes
from eprescription.domain.errors import AuthenticationRequired, PermissionDenied
from eprescription.models import Account, Role
from eprescription.services import accounts, software_clients
from eprescription.services.software_clients import SoftwareCaller
from eprescription.use_cases import SOFTWARE_KEY, unit_of_work
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
        holder = accounts.token_holder(uow, token.strip())
        if holder.software is not None:
            software = software_clients.caller(holder.software, holder.scopes or frozenset())
            request.environ[SOFTWARE_KEY] = software
            throttling.software_call(software)
        return holder.account
    if session.get("account_id") is None:
        return None
    if request.method not in SAFE_METHODS:
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as error:  # what validate_csrf raises (CSRFError is protect()'s)
            raise PermissionDenied("A valid X-CSRFToken header is required.") from error
    return login_sessions.session_account(uow)


def current_software() -> SoftwareCaller | None:
    """The software client whose token this request carries (with the token's scopes and the
    client's pharmacy or practice), or None; alone when current_account() is None."""
    current_account()
    return request.environ.get(SOFTWARE_KEY)


def roles_required(*roles: Role) -> Callable:
    """Refuse the call unless an account with one of `roles` is authenticated, or a software
    client's token whose scopes allow the operation (api/scopes.py)."""

    def check() -> None:
        account = current_account()
        software = current_software()
        if software is not None:
            scopes.check(request.endpoint, software, alone=account is None)
            if account is None:
                return
        if account is None:
            raise AuthenticationRequired()
        if account.role not in roles:
            raise PermissionDenied(f"This needs the role {' or '.join(roles)}.")

    return checked_first(check)

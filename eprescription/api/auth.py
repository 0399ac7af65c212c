"""POST /api/v1/auth/token and /logout (bearer tokens for API clients) and GET /api/v1/auth/me."""

from flask import after_this_request, request, session

from eprescription import login_sessions, throttling
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.domain.errors import AuthenticationFailed, TooManyAttempts
from eprescription.errors import NO_CONTENT, OK, status_for
from eprescription.models import Role
from eprescription.schemas.auth import MeSchema, TokenRequestSchema, TokenSchema
from eprescription.services import accounts, sessions
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint("api_auth", "/api/v1/auth", "Bearer tokens for API clients, and who is calling.")


@blp.operation("POST /token")
@throttling.guesses("password")
@blp.arguments(TokenRequestSchema)
@blp.response(OK, TokenSchema, headers={"Cache-Control": {"schema": {"type": "string"}}})
@blp.alt_response(
    status_for(AuthenticationFailed),
    description="Wrong username or password (code authentication_failed)",
)
@blp.alt_response(
    status_for(TooManyAttempts),
    description="Too many wrong passwords for this username, or too many attempts from this "
    "client (code too_many_login_failures or too_many_attempts; Retry-After says when)",
)
def issue_token(credentials: dict):
    """Exchange a username and password for a bearer token that expires (a client that keeps
    the device cookie of its last login is spared the waits that guesses from elsewhere cause)."""
    username = credentials["username"]
    with unit_of_work() as uow:
        lifetime = uow.settings.token_lifetime_seconds
        account, token, _expires_at = accounts.token_for_credentials(
            uow,
            username,
            credentials["password"],
            lifetime,
            device=login_sessions.known_device(username),
        )
    after_this_request(lambda response: login_sessions.remember_device(response, account))
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
    # RFC 6749 §5.1: a response carrying a token must not be cached.
    return body, OK, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@blp.operation("GET /me", *Role, response=MeSchema)
def me():
    """The caller's username, role and name (and RPPS or pharmacy for professionals)."""
    with unit_of_work(current_account()) as uow:
        profile = accounts.profile(uow)
    return profile


@blp.operation("POST /logout", *Role, status=NO_CONTENT)
@blp.response(NO_CONTENT, description="The token of this call is ended")
def logout():
    """End the bearer token of this call: its other tokens and sessions go on (a browser
    session calling ends every session and token of the account, as the logout page does)."""
    account = current_account()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    with unit_of_work(account) as uow:
        if scheme.lower() == "bearer":
            sessions.end_token(uow, token.strip())
        else:
            sessions.end_all(uow, uow.require_account())
    if scheme.lower() != "bearer":
        session.clear()
    return "", NO_CONTENT

"""POST /api/v1/oauth/token and /revoke: OAuth 2.0 tokens for software clients (RFC 6749,
RFC 7523 client assertions, RFC 7009 revocation); docs/software-clients.md."""

import base64
import binascii
from urllib.parse import unquote_plus

from flask import after_this_request, request, url_for

from eprescription import login_sessions, throttling
from eprescription.api.operations import ApiBlueprint
from eprescription.domain.errors import (
    ClientAuthenticationFailed,
    OAuthGrantRefused,
    OAuthRefused,
    TooManyAttempts,
)
from eprescription.errors import OK, status_for
from eprescription.schemas.oauth import (
    OAuthRevokeRequestSchema,
    OAuthTokenRequestSchema,
    OAuthTokenSchema,
)
from eprescription.services import software_tokens
from eprescription.services.software_tokens import ClientProof
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_oauth", "/api/v1/oauth", "OAuth 2.0 tokens for registered software (client credentials)."
)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


@blp.operation("POST /token")
@throttling.guesses("password")
@blp.arguments(OAuthTokenRequestSchema, location="form")
@blp.response(OK, OAuthTokenSchema, headers={"Cache-Control": {"schema": {"type": "string"}}})
@blp.alt_response(
    status_for(OAuthRefused),
    description="RFC 6749 §5.2 `error` with our `code`: invalid_request (oauth_request_invalid), "
    "unsupported_grant_type (oauth_grant_type_unsupported), invalid_scope "
    "(oauth_scope_refused), invalid_grant (oauth_grant_refused, professional_not_of_client)",
)
@blp.alt_response(
    status_for(ClientAuthenticationFailed),
    description="invalid_client: client_authentication_failed, client_revoked, "
    "client_assertion_invalid, client_assertion_replayed",
)
@blp.alt_response(
    status_for(TooManyAttempts), description="too_many_attempts, too_many_login_failures"
)
def token(form: dict):
    """A bearer token for a software client: `client_credentials` for the software itself, or
    `password` for a professional of its pharmacy or practice; the client authenticates with
    HTTP Basic (client_secret_basic), client_id and client_secret in the form
    (client_secret_post), or a signed JWT (private_key_jwt, RFC 7523)."""
    username = form["username"] or ""
    try:
        with unit_of_work() as uow:
            client = software_tokens.authenticate_client(uow, _proof(form), _audience())
            granted = software_tokens.grant(
                uow,
                client,
                form["grant_type"] or "",
                scope=form["scope"],
                username=username,
                password=form["password"],
                device=login_sessions.known_device(username) if username else None,
            )
    except OAuthGrantRefused:
        throttling.missed()  # a wrong password answers 400 (RFC 6749): still a guess
        raise
    if granted.account is not None:
        account = granted.account
        after_this_request(lambda response: login_sessions.remember_device(response, account))
    body = {
        "access_token": granted.access_token,
        "token_type": "Bearer",
        "expires_in": granted.expires_in,
        "scope": granted.scope,
    }
    return body, OK, NO_STORE


@blp.operation("POST /revoke")
@throttling.guesses("password")
@blp.arguments(OAuthRevokeRequestSchema, location="form")
@blp.response(OK, description="The token is ended (or was not this client's: RFC 7009 §2.2)")
@blp.alt_response(
    status_for(ClientAuthenticationFailed), description="invalid_client, as for /token"
)
def revoke(form: dict):
    """End one of the client's tokens (RFC 7009); the client authenticates as for /token."""
    with unit_of_work() as uow:
        client = software_tokens.authenticate_client(uow, _proof(form), _audience())
        software_tokens.revoke(uow, client, form["token"] or "")
    return "", OK, NO_STORE


def _audience() -> str:
    """What a client assertion's aud must be: this token endpoint's URL."""
    return url_for("api_oauth.token", _external=True)


def _proof(form: dict) -> ClientProof:
    """The client's credentials: from the Basic header (RFC 6749 §2.3.1: each part
    form-urlencoded) or from the form; more than one way is refused."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    in_form = ClientProof(
        form["client_id"],
        form["client_secret"],
        form["client_assertion_type"],
        form["client_assertion"],
    )
    if not header:
        return in_form
    if scheme.lower() != "basic":
        raise ClientAuthenticationFailed("Use HTTP Basic, the form, or a client assertion.")
    if in_form.secret is not None or in_form.assertion is not None:
        raise OAuthRefused("Use one way of client authentication only.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ClientAuthenticationFailed() from error
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise ClientAuthenticationFailed()
    client_id = unquote_plus(client_id)
    if in_form.client_id not in (None, client_id):
        raise OAuthRefused("The client_id of the form is not the one of the Basic header.")
    return ClientProof(client_id, unquote_plus(secret), None, None)

"""POST /api/v1/auth/token (bearer tokens for API clients) and GET /api/v1/auth/me."""

from flask import current_app
from flask_smorest import Blueprint

from eprescription.api.security import current_account, roles_required
from eprescription.db import get_session
from eprescription.models import Role
from eprescription.schemas.auth import MeSchema, TokenRequestSchema, TokenSchema
from eprescription.services import accounts

blp = Blueprint(
    "api_auth",
    __name__,
    url_prefix="/api/v1/auth",
    description="Bearer tokens for API clients, and who is calling.",
)


@blp.route("/token", methods=["POST"])
@blp.arguments(TokenRequestSchema)
@blp.response(200, TokenSchema, headers={"Cache-Control": {"schema": {"type": "string"}}})
@blp.alt_response(401, description="Wrong username or password (code authentication_failed)")
def issue_token(credentials: dict):
    """Exchange a username and password for a bearer token that expires."""
    lifetime = current_app.config["TOKEN_LIFETIME_SECONDS"]
    token, _expires_at = accounts.token_for_credentials(
        get_session(), credentials["username"], credentials["password"], lifetime
    )
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
    # RFC 6749 §5.1: a response carrying a token must not be cached.
    return body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@blp.route("/me", methods=["GET"])
@blp.response(200, MeSchema)
@blp.doc(security=[{"bearer": []}])
@roles_required(*Role)
def me():
    """The caller's username, role and name (and RPPS or pharmacy for professionals)."""
    return accounts.profile(get_session(), current_account())

"""POST /api/v1/auth/token (bearer tokens for API clients) and GET /api/v1/auth/me."""

from flask_smorest import Blueprint

from eprescription.api.security import current_account, roles_required
from eprescription.domain.errors import AuthenticationFailed
from eprescription.errors import OK, status_for
from eprescription.models import Role
from eprescription.schemas.auth import MeSchema, TokenRequestSchema, TokenSchema
from eprescription.services import accounts
from eprescription.use_cases import unit_of_work

blp = Blueprint(
    "api_auth",
    __name__,
    url_prefix="/api/v1/auth",
    description="Bearer tokens for API clients, and who is calling.",
)


@blp.route("/token", methods=["POST"])
@blp.arguments(TokenRequestSchema)
@blp.response(OK, TokenSchema, headers={"Cache-Control": {"schema": {"type": "string"}}})
@blp.alt_response(
    status_for(AuthenticationFailed),
    description="Wrong username or password (code authentication_failed)",
)
def issue_token(credentials: dict):
    """Exchange a username and password for a bearer token that expires."""
    with unit_of_work() as uow:
        lifetime = uow.settings.token_lifetime_seconds
        token, _expires_at = accounts.token_for_credentials(
            uow, credentials["username"], credentials["password"], lifetime
        )
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
    # RFC 6749 §5.1: a response carrying a token must not be cached.
    return body, OK, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@blp.route("/me", methods=["GET"])
@blp.response(OK, MeSchema)
@blp.doc(security=[{"bearer": []}])
@roles_required(*Role)
def me():
    """The caller's username, role and name (and RPPS or pharmacy for professionals)."""
    with unit_of_work(current_account()) as uow:
        profile = accounts.profile(uow)
    return profile

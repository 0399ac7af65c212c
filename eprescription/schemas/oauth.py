"""Request and response bodies of /api/v1/oauth (RFC 6749 §4.4 and §4.3, RFC 7523, RFC 7009):
form fields, checked by the service so that each refusal has its RFC 6749 `error`."""

from marshmallow import Schema, fields, validate

from eprescription.services.accounts import PASSWORD_MAX_LENGTH
from eprescription.services.software_assertions import ASSERTION_MAX_LENGTH, ASSERTION_TYPE


def _text(description: str, max_length: int = 256) -> fields.String:
    return fields.String(
        load_default=None,
        validate=validate.Length(max=max_length),
        metadata={"description": description},
    )


class ClientAuthenticationSchema(Schema):
    """The client's proof when it is not in the Authorization header (client_secret_basic)."""

    client_id = _text("client_secret_post: the client_id (optional with an assertion)", 64)
    client_secret = _text("client_secret_post: the secret given at registration")
    client_assertion_type = _text(f"private_key_jwt: {ASSERTION_TYPE}")
    client_assertion = _text(
        "private_key_jwt: a JWT signed with the client's registered key (ES256 or PS256), "
        "iss = sub = client_id, aud = this endpoint's URL, exp at most 5 minutes ahead, a jti "
        "used once",
        ASSERTION_MAX_LENGTH,
    )


class OAuthTokenRequestSchema(ClientAuthenticationSchema):
    grant_type = _text("client_credentials (the software alone) or password (a professional)")
    scope = _text("space-separated, among issue read dispense events (default: all allowed)")
    username = _text("grant password: the professional's username", 64)
    password = _text("grant password: the professional's password", PASSWORD_MAX_LENGTH)


class OAuthTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    scope = fields.String(required=True, metadata={"example": "issue read"})


class OAuthRevokeRequestSchema(ClientAuthenticationSchema):
    token = _text("the access token to end", 256)
    token_type_hint = _text("access_token (the only kind there is)", 32)

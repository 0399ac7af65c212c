"""Request and response bodies of /api/v1/auth."""

from marshmallow import Schema, fields, validate

from eprescription.services.accounts import PASSWORD_MAX_LENGTH


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(
        required=True, validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH)
    )


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class MeSchema(Schema):
    username = fields.String(required=True)
    role = fields.String(required=True)
    name = fields.String(required=True)
    rpps = fields.String(allow_none=True)
    specialty = fields.String(allow_none=True)
    pharmacy_name = fields.String(allow_none=True)
    pharmacy_finess = fields.String(allow_none=True)

"""The RFC 9457 problem document every API error answers with (see eprescription.errors)."""

from marshmallow import Schema, fields


class ProblemSchema(Schema):
    type = fields.String(required=True, metadata={"example": "about:blank#not_found"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(
        required=True,
        metadata={"description": "Stable, machine-readable reason, e.g. validation_failed."},
    )
    instance = fields.String(metadata={"description": "The path of the request."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={"description": "Per field, what is wrong with it (validation errors)."},
    )

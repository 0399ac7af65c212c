"""Bodies of /api/v1/prescriptions/prepare and /api/v1/prescriptions/signed (external signing)."""

from marshmallow import Schema, fields, validate

from eprescription.schemas.prescriptions import (
    PrescriptionDraftSchema,
    RuleNoteSchema,
    WarningSchema,
)
from eprescription.schemas.signing import JWS_MAX_LENGTH
from eprescription.signing.jws import ALGORITHMS

X5C_ENTRY_MAX = 16_000  # characters of one base64 DER certificate


def _said(kind: type[fields.Field], description: str, **options) -> fields.Field:
    """A field with its description in the OpenAPI document."""
    return kind(metadata={"description": description}, **options)


class PrepareSchema(PrescriptionDraftSchema):
    """The body of POST /api/v1/prescriptions, without the PIN, and what the signer uses."""

    alg = _said(
        fields.String,
        "The algorithm of the protected header: ES256, PS256 or RS256.",
        load_default="ES256",
        validate=validate.OneOf(ALGORITHMS),
    )
    x5c = _said(
        fields.List,
        "The signer's chain, leaf first (base64 DER, RFC 7515 §4.1.6): with it the answer "
        "holds the complete protected header and signing input.",
        cls_or_instance=fields.String(validate=validate.Length(min=1, max=X5C_ENTRY_MAX)),
        validate=validate.Length(min=1, max=5),
        load_default=None,
    )


class PreparedSchema(Schema):
    """What to sign: the payload's exact bytes, the header to sign them under."""

    number = fields.String(required=True)
    issued_at = _said(fields.DateTime, "The signing time, in the payload.", required=True)
    sign_before = _said(fields.DateTime, "Submit before this, or prepare again.", required=True)
    payload = _said(fields.String, "The exact canonical JSON (RFC 8785) to sign.", required=True)
    payload_b64url = _said(fields.String, "The same bytes, base64url.", required=True)
    protected_header = _said(
        fields.Dict, "{alg, typ, x5c}; without x5c, the signer adds its own.", required=True
    )
    signing_input = _said(
        fields.String, "base64url(header).payload_b64url, when x5c was given.", allow_none=True
    )
    warnings = fields.List(fields.Nested(WarningSchema), required=True)
    rule_notes = fields.List(fields.Nested(RuleNoteSchema), required=True)


class SignedSubmitSchema(PrescriptionDraftSchema):
    """The body prepare was given, and the compact JWS the prescriber's key made over it."""

    jws = _said(
        fields.String,
        "The compact JWS (ES256, PS256 or RS256, x5c in its header).",
        required=True,
        validate=validate.Length(min=1, max=JWS_MAX_LENGTH),
    )

"""Bodies of /api/v1/trust/certificates and /api/v1/verify."""

from marshmallow import Schema, fields, validate

JWS_MAX_LENGTH = 200_000


class CrlSchema(Schema):
    this_update = fields.DateTime(required=True)
    next_update = fields.DateTime(required=True)
    status = fields.String(required=True, metadata={"description": "current or out_of_date"})
    pem = fields.String(required=True)


class CertificateSchema(Schema):
    kind = fields.String(
        required=True,
        metadata={
            "description": "ca, prescriber_ca (an outside CA), prescriber_intermediate_ca (an "
            "intermediate imported under a prescriber_ca, for its CRL and OCSP; not trusted by "
            "itself), prescriber or service"
        },
    )
    subject = fields.String(required=True, metadata={"description": "RFC 4514 distinguished name"})
    serial = fields.String(required=True, metadata={"description": "serial number, lowercase hex"})
    not_valid_before = fields.DateTime(required=True)
    not_valid_after = fields.DateTime(required=True)
    pem = fields.String(required=True)
    rpps = fields.String(allow_none=True, metadata={"description": "prescribers' RPPS number"})
    status = fields.String(
        required=True,
        metadata={
            "description": "valid, revoked or expired; active for a CA; trusted or no_crl for "
            "a prescriber_ca (no_crl: neither a CRL nor OCSP can tell its revocations)"
        },
    )
    fingerprint = fields.String(
        metadata={"description": "an outside CA's SHA-256 fingerprint (hex, of the DER)"}
    )
    ocsp = fields.String(
        allow_none=True,
        metadata={
            "description": "an outside CA's OCSP setting: the responder's URL, aia (the one "
            "each certificate names), or null"
        },
    )
    crl = fields.Nested(
        CrlSchema, metadata={"description": "a prescriber_ca's CRL, when one is loaded"}
    )


class RevocationSchema(Schema):
    serial = fields.String(required=True)
    revoked_at = fields.DateTime(required=True)
    reason = fields.String(required=True)
    key_compromise = fields.Boolean(
        required=True,
        metadata={"description": "true: no signature by this key is trusted, even earlier ones"},
    )


class TrustListSchema(Schema):
    authorities = fields.List(fields.Nested(CertificateSchema), required=True)
    certificates = fields.List(fields.Nested(CertificateSchema), required=True)
    revocations = fields.List(fields.Nested(RevocationSchema), required=True)


class VerifyRequestSchema(Schema):
    jws = fields.String(
        required=True,
        validate=validate.Length(min=1, max=JWS_MAX_LENGTH),
        metadata={"description": "a JWS in compact serialization"},
    )
    payload = fields.String(
        load_default=None,
        validate=validate.Length(max=JWS_MAX_LENGTH),
        metadata={"description": "the stored content (UTF-8 text) the JWS should sign exactly"},
    )


class CheckSchema(Schema):
    name = fields.String(
        required=True, metadata={"description": "signature, chain, validity, revocation, payload"}
    )
    ok = fields.Boolean(required=True)
    detail = fields.String(required=True)


class SignerSchema(Schema):
    subject = fields.String(required=True)
    rpps = fields.String(allow_none=True)
    serial = fields.String(required=True)


class VerificationSchema(Schema):
    valid = fields.Boolean(required=True)
    checks = fields.List(fields.Nested(CheckSchema), required=True)
    signed_at = fields.DateTime(allow_none=True)
    signer = fields.Nested(SignerSchema, allow_none=True)

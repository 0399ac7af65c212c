"""POST /api/v1/verify: check a signed document and report each check (public)."""

from flask_smorest import Blueprint

from eprescription.db import get_session
from eprescription.schemas.signing import VerificationSchema, VerifyRequestSchema
from eprescription.services.verification import verify_document
from eprescription.signing import certificates

blp = Blueprint(
    "api_verify",
    __name__,
    url_prefix="/api/v1/verify",
    description="Verify a signature against this service's CA and revocations.",
)


@blp.route("", methods=["POST"])
@blp.arguments(VerifyRequestSchema)
@blp.response(200, VerificationSchema)
def verify(body: dict):
    """{jws, payload?} → {valid, checks: [{name, ok, detail}]}; 200 even when not valid."""
    payload = body["payload"]
    report = verify_document(
        get_session(), body["jws"], payload.encode("utf-8") if payload is not None else None
    )
    leaf = report.certificate
    signer = None
    if leaf is not None:
        signer = {
            "subject": leaf.subject.rfc4514_string(),
            "rpps": certificates.rpps_of(leaf),
            "serial": certificates.serial_hex(leaf),
        }
    return {
        "valid": report.valid,
        "checks": report.checks,
        "signed_at": report.signed_at,
        "signer": signer,
    }

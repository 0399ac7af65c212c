"""POST /api/v1/verify: check a signed document and report each check (public)."""

from eprescription.api.operations import ApiBlueprint
from eprescription.schemas.signing import VerificationSchema, VerifyRequestSchema
from eprescription.services.verification import verify_document
from eprescription.signing import certificates
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_verify", "/api/v1/verify", "Verify a signature against this service's CA and revocations."
)


@blp.operation("POST ", response=VerificationSchema)
@blp.arguments(VerifyRequestSchema)
def verify(body: dict):
    """{jws, payload?} → {valid, checks: [{name, ok, detail}]}; 200 even when not valid."""
    payload = body["payload"]
    stored = payload.encode("utf-8") if payload is not None else None
    # Public and not audited: no account is resolved (a stray Authorization header is ignored).
    with unit_of_work() as uow:
        report = verify_document(uow, body["jws"], stored)
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

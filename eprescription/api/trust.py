"""GET /api/v1/trust/certificates: what anyone needs to verify a signature made here."""

from eprescription.api.operations import ApiBlueprint
from eprescription.schemas.signing import TrustListSchema
from eprescription.services import pki, prescriber_trust
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_trust",
    "/api/v1/trust",
    "The prescriber CA, prescriber certificates and revocations (public).",
)


@blp.operation("GET /certificates", response=TrustListSchema)
def certificates():
    """The CA certificates, every prescriber certificate (PEM) and the revocations; and the
    outside CAs trusted for prescribers' own signatures (kind prescriber_ca), each with its CRL."""
    with unit_of_work() as uow:
        trust_list = pki.trusted_certificates(uow)
        outside = prescriber_trust.published(uow)
    return {
        "authorities": [*trust_list.authorities, *outside],
        "certificates": trust_list.certificates,
        "revocations": trust_list.revocations,
    }

"""GET /api/v1/trust/certificates: what anyone needs to verify a signature made here."""

from eprescription.api.operations import ApiBlueprint
from eprescription.schemas.signing import TrustListSchema
from eprescription.services import pki
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_trust",
    "/api/v1/trust",
    "The prescriber CA, prescriber certificates and revocations (public).",
)


@blp.operation("GET /certificates", response=TrustListSchema)
def certificates():
    """The CA certificates, every prescriber certificate (PEM) and the revocations."""
    with unit_of_work() as uow:
        trust_list = pki.trusted_certificates(uow)
    return trust_list

"""GET /api/v1/trust/certificates: what anyone needs to verify a signature made here."""

from flask_smorest import Blueprint

from eprescription.errors import OK
from eprescription.schemas.signing import TrustListSchema
from eprescription.services import pki
from eprescription.use_cases import unit_of_work

blp = Blueprint(
    "api_trust",
    __name__,
    url_prefix="/api/v1/trust",
    description="The prescriber CA, prescriber certificates and revocations (public).",
)


@blp.route("/certificates", methods=["GET"])
@blp.response(OK, TrustListSchema)
def certificates():
    """The CA certificates, every prescriber certificate (PEM) and the revocations."""
    with unit_of_work() as uow:
        trust_list = pki.trusted_certificates(uow)
    return trust_list

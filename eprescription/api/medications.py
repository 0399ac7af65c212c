"""GET /api/v1/medications: the medication search, for prescribers and pharmacists."""

from flask import jsonify
from flask_smorest import Blueprint

from eprescription.api.security import current_account, roles_required
from eprescription.errors import OK
from eprescription.models import Role
from eprescription.schemas.medications import MedicationPageSchema, MedicationSearchArgsSchema
from eprescription.services import catalog
from eprescription.use_cases import unit_of_work

blp = Blueprint(
    "api_medications",
    __name__,
    url_prefix="/api/v1/medications",
    description="Search the medicine catalog (BDPM).",
)


@blp.route("", methods=["GET"])
@blp.response(OK, MedicationPageSchema)
@blp.doc(security=[{"bearer": []}])
@roles_required(Role.PRESCRIBER, Role.PHARMACIST)  # before the arguments: 401 beats 422
@blp.arguments(MedicationSearchArgsSchema, location="query", as_kwargs=True)
def search(q: str, page: int, page_size: int):
    """Products matching every word of `q` as a prefix, best first, one page at a time."""
    with unit_of_work(current_account()) as uow:
        result = catalog.search(uow, q, page, page_size)
    # The hits are stored in the documented shape (search_index); dumping them again
    # through the schema would double the time of a search. A test holds them to the schema.
    return jsonify(
        items=result.items, total=result.total, page=result.page, page_size=result.page_size
    )

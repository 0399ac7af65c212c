"""GET /api/v1/medications: the medication search, for prescribers and pharmacists."""

from flask import jsonify

from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.models import Role
from eprescription.schemas.medications import MedicationPageSchema, MedicationSearchArgsSchema
from eprescription.services import catalog
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint("api_medications", "/api/v1/medications", "Search the medicine catalog (BDPM).")


@blp.operation("GET ", Role.PRESCRIBER, Role.PHARMACIST, response=MedicationPageSchema)
@blp.arguments(MedicationSearchArgsSchema, location="query")
def search(args: dict):
    """Products matching every word of `q` as a prefix, best first, one page at a time; on the
    first page, the substance lines (prescribing by DCI) to show before them."""
    with unit_of_work(current_account()) as uow:
        result = catalog.search(uow, args["q"], args["page"], args["page_size"])
    # The hits are stored in the documented shape (search_index); dumping them again
    # through the schema would double the time of a search. A test holds them to the schema.
    # Flask's JSON turns the page's dataclass into an object of its fields.
    return jsonify(result)

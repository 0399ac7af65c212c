"""Query arguments and response body of GET /api/v1/medications."""

from marshmallow import Schema, ValidationError, fields, validate

from eprescription.catalog.search import PAGE_SIZE_MAX, QUERY_MAX_LENGTH
from eprescription.catalog.search_index import GENERIC_TYPES
from eprescription.catalog.text import query_words
from eprescription.domain.prescribing_conditions import Kind
from eprescription.schemas.pages import PageSchema, page_argument, page_size_argument
from eprescription.schemas.prescriptions import SubstanceInSchema


def _has_a_word(q: str) -> None:
    if not query_words(q):
        raise ValidationError("Type at least one letter or digit to search.")


class MedicationSearchArgsSchema(Schema):
    q = fields.String(
        required=True,
        validate=[validate.Length(max=QUERY_MAX_LENGTH), _has_a_word],
        metadata={
            "description": "Brand name, active substance (DCI), CIS, CIP13 or CIP7; "
            "every word is a prefix, accents and case are ignored.",
            "example": "doliprane 1000",
        },
    )
    page = page_argument()
    page_size = page_size_argument(20, PAGE_SIZE_MAX)


class SubstanceSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    strength = fields.String(required=True, metadata={"example": "1000 mg"})
    per = fields.String(required=True, metadata={"example": "un comprimé"})
    nature = fields.String(
        required=True,
        metadata={
            "enum": ["SA", "FT"],
            "description": "SA: active substance; FT: therapeutic fraction, the same substance "
            "expressed as its active part (paired by element and link number).",
        },
    )
    link_number = fields.Integer(allow_none=True)


class PresentationSchema(Schema):
    cip13 = fields.String(required=True)
    cip7 = fields.String(required=True)
    label = fields.String(required=True)
    marketing_status = fields.String(required=True)
    reimbursement_rate = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Social security reimbursement rate in percent; null if not reimbursed."
        },
    )
    price_cents = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Public price in euro cents, before dispensing fees; null if unpriced.",
            "example": 258,
        },
    )


class GenericGroupSchema(Schema):
    id = fields.Integer(required=True)
    label = fields.String(required=True)
    type = fields.String(
        required=True,
        metadata={
            "enum": list(GENERIC_TYPES.values()),
            "description": "This product's place in the group.",
        },
    )


class ConditionSchema(Schema):
    kind = fields.String(required=True, metadata={"enum": [kind.value for kind in Kind]})
    text = fields.String(
        required=True, metadata={"description": "The BDPM's text, the rule's source."}
    )
    days = fields.Integer(
        metadata={
            "description": "A duration limit, a fractioned dispensing, an initial "
            "hospital prescription's validity."
        }
    )
    specialty = fields.String(metadata={"description": "The specialty a prescriber must have."})


class MedicationSchema(Schema):
    cis = fields.String(required=True)
    name = fields.String(required=True)
    form = fields.String(required=True)
    routes = fields.List(fields.String(), required=True)
    prescribable = fields.Boolean(
        required=True,
        metadata={"description": "Authorised and still listed: a new prescription may name it."},
    )
    authorisation_status = fields.String(required=True)
    marketing_status = fields.String(required=True)
    substances = fields.List(fields.Nested(SubstanceSchema), required=True)
    presentations = fields.List(
        fields.Nested(PresentationSchema),
        required=True,
        metadata={"description": "Packs still listed in the BDPM."},
    )
    generic_groups = fields.List(fields.Nested(GenericGroupSchema), required=True)
    conditions = fields.List(
        fields.Nested(ConditionSchema),
        required=True,
        metadata={"description": "Prescribing and dispensing conditions (CIS_CPD), classified."},
    )


class SubstanceLineSchema(Schema):
    name = fields.String(
        required=True,
        metadata={
            "description": "What to show.",
            "example": "amoxicilline 1 g, comprimé dispersible",
        },
    )
    substance_name = fields.String(required=True, metadata={"example": "amoxicilline"})
    substance = fields.Nested(
        SubstanceInSchema,
        required=True,
        metadata={
            "description": "The `substance` of a prescription item that prescribes this line "
            "by DCI (POST /api/v1/prescriptions), as it is."
        },
    )
    per = fields.String(
        required=True,
        metadata={"description": "What the strength is for.", "example": "un comprimé"},
    )
    products = fields.Integer(
        required=True,
        metadata={"description": "Prescribable products on the market that the line gathers."},
    )
    reimbursed = fields.Boolean(
        required=True,
        metadata={"description": "Whether one of their packs is reimbursed."},
    )


class MedicationPageSchema(PageSchema):
    items = fields.List(fields.Nested(MedicationSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": "Matches on every page."})
    substances = fields.List(
        fields.Nested(SubstanceLineSchema),
        required=True,
        metadata={
            "description": "Prescribing by DCI: the substances at a strength in a form that "
            "match `q` at least as well as the best product, most prescribed first, to show "
            "before the products; up to `page_size`, on the first page only (empty on the others)."
        },
    )

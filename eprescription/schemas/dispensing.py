"""Request and response bodies of the pharmacy API: scan, lookup by card, dispense, the
pharmacy's dispensations, reverse."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from eprescription.domain import dispensing as rules
from eprescription.domain import prescriptions as prescription_rules
from eprescription.schemas import inputs
from eprescription.schemas.pages import page_argument, page_size_argument
from eprescription.schemas.prescriptions import VerifiedSchema

PRESENTER_NIR = (
    "Number + NIR or card lookup when the patient is not the one at the counter: the NIR of "
    "the person who is (a representative), as read from their own card. With "
    "identity_confirmed, an active representative of the patient opens public and authorised "
    "prescriptions (never private ones); anyone else only public ones."
)


class ScanSchema(Schema):
    code = fields.String(
        validate=validate.Length(min=1, max=256),
        metadata={"description": "The QR text as scanned (EP1.<number>.<access code>)."},
    )
    number = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Manual entry: the prescription number, with patient_nir."},
    )
    patient_nir = inputs.national_id("Manual entry: the patient's NIR as read from their card.")
    identity_confirmed = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The pharmacist checked the identity of the person at the counter: "
            "the patient, or the representative named by presenter_nir."
        },
    )
    presenter_nir = inputs.national_id(PRESENTER_NIR)

    @validates_schema
    def _one_way(self, data, **_):
        if "code" in data and ("number" in data or "patient_nir" in data):
            raise ValidationError("give code, or number with patient_nir, not both", "code")
        if "code" in data and "presenter_nir" in data:
            raise ValidationError(
                "presenter_nir goes with manual entry (number and patient_nir)", "presenter_nir"
            )
        if "code" not in data and not ("number" in data and "patient_nir" in data):
            raise ValidationError("give the QR code, or the number with the patient's NIR", "code")


class CollectorSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(rules.COLLECTOR_KINDS))
    national_id = fields.String(validate=validate.Length(min=1, max=32))
    name = fields.String(validate=validate.Length(min=1, max=256))

    @validates_schema
    def _identified(self, data, **_):
        problem = rules.collector_identity_problem(
            data["kind"], data.get("national_id"), data.get("name")
        )
        if problem:
            raise ValidationError(problem, "national_id")


class PackLineSchema(Schema):
    line = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    cip13 = fields.String(validate=validate.Regexp(r"^\d{13}$", error="13 digits"))
    gs1 = fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "The pack's GS1 DataMatrix text (GTIN, expiry, batch, serial)."},
    )
    quantity = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=prescription_rules.QUANTITY_MAX),
    )
    batch = fields.String(validate=validate.Length(min=1, max=20))
    expiry = fields.Date()
    serial = fields.String(validate=validate.Length(min=1, max=20))
    unit_price_cents = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=10_000_000),
        metadata={"description": "Only for a pack the catalog has no price for."},
    )

    @validates_schema
    def _pack(self, data, **_):
        if not data.get("cip13") and not data.get("gs1"):
            raise ValidationError("give the CIP13 or the GS1 code", "cip13")


class DispenseSchema(ScanSchema):
    lines = fields.List(
        fields.Nested(PackLineSchema),
        required=True,
        validate=validate.Length(min=1, max=2 * prescription_rules.ITEMS_MAX),
    )
    collected_by = fields.Nested(CollectorSchema, required=True)


class ReversalSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class CardLookupRequestSchema(Schema):
    """POST /pharmacy/card-lookup: the NIR goes in the body, never in a URL (a URL is logged)."""

    nir = inputs.national_id("The patient's NIR, as read from their card.", required=True)
    page = page_argument()
    page_size = page_size_argument(rules.CARD_PAGE_SIZE, rules.CARD_PAGE_SIZE_MAX)
    identity_confirmed = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The pharmacist checked the identity of the person at the counter: "
            "the patient (all their prescriptions), or the representative of presenter_nir."
        },
    )
    presenter_nir = inputs.national_id(PRESENTER_NIR)


class DispensingCheckSchema(Schema):
    name = fields.String()
    ok = fields.Boolean()
    detail = fields.String()


class RenewalPeriodSchema(Schema):
    current = fields.Integer()
    of = fields.Integer()
    remaining = fields.Integer()
    opens = fields.Date(
        allow_none=True,
        metadata={"description": "When the current renewal period opens, if after today."},
    )


class SubstitutionPolicySchema(Schema):
    allowed = fields.Boolean()
    reason = fields.String()
    non_substitution_reason = fields.String(allow_none=True)


class PharmacistLineSchema(Schema):
    line = fields.Integer()
    medication = fields.Dict()
    dosage = fields.Dict()
    ald = fields.Boolean()
    status = fields.String()
    quantity_per_period = fields.Integer()
    prescribed_total = fields.Integer()
    dispensed = fields.Integer()
    remaining_total = fields.Integer()
    period = fields.Nested(RenewalPeriodSchema)
    substitution = fields.Nested(SubstitutionPolicySchema)
    conditions = fields.List(
        fields.Dict(),
        metadata={"description": "The product's prescribing conditions as signed (kind, text)."},
    )


class VerifiedSignatureSchema(Schema):
    valid = fields.Boolean()
    checks = fields.List(fields.Nested(DispensingCheckSchema))


class PharmacistPrescriptionSchema(VerifiedSchema):
    id = fields.String()
    number = fields.String()
    status = fields.String()
    version = fields.Integer()
    issued_at = fields.String()
    valid_from = fields.String()
    valid_until = fields.String()
    valid_today = fields.Boolean()
    renewals = fields.Integer()
    pickup_mode = fields.String()
    patient = fields.Dict()
    prescriber = fields.Dict()
    signature = fields.Nested(VerifiedSignatureSchema)
    items = fields.List(fields.Nested(PharmacistLineSchema))
    jws = fields.String()


class CardLookupSchema(Schema):
    prescriptions = fields.List(
        fields.Nested(PharmacistPrescriptionSchema),
        metadata={"description": "This page of them, newest first."},
    )
    withheld = fields.Integer(
        metadata={
            "description": "Private or authorised ones not shown to the person at the counter "
            "(identity not confirmed, or not the patient)."
        }
    )
    total = fields.Integer(metadata={"description": "All those shown, on every page."})
    page = fields.Integer()
    page_size = fields.Integer()


class ReversalDocumentSchema(Schema):
    """A reversal: when and why, and the document the service signed (JWS, verified like a
    receipt: `x5c` service certificate, then the CA)."""

    reversed_at = fields.String()
    reason = fields.String()
    document = fields.Dict(
        allow_none=True,
        metadata={"description": "The signed content (type eprescription.dispensation_reversal)."},
    )
    jws = fields.String(allow_none=True)


class ReceiptSchema(Schema):
    """The receipt's signed content, its JWS, and the prescription's state after it."""

    id = fields.String()
    type = fields.String()
    version = fields.Integer()
    issued_at = fields.String()
    prescription = fields.Dict()
    pharmacy = fields.Dict()
    pharmacist = fields.Dict()
    collected_by = fields.Dict()
    lines = fields.List(fields.Dict())
    total_cents = fields.Integer()
    covered_cents = fields.Integer()
    patient_share_cents = fields.Integer()
    limited_by = fields.List(
        fields.Dict(),
        metadata={
            "description": "The dispensing rule that limited each line given less than its "
            "period: line, rule (docs/rules.md)."
        },
    )
    prescription_status = fields.String()
    prescription_version = fields.Integer()
    reversed_at = fields.String(allow_none=True)
    reversible_until = fields.String(
        metadata={"description": "The end of the 24 hours in which the pharmacy may reverse it."}
    )
    reversal = fields.Nested(ReversalDocumentSchema, allow_none=True)
    jws = fields.String()


class DispensationSchema(ReceiptSchema):
    """A dispensation reopened by its pharmacy: the receipt, and whether it can be reversed now."""

    reversible = fields.Boolean()


class DispensationListArgsSchema(Schema):
    page = page_argument()
    per_page = page_size_argument(20, 100)


class DispensationSummarySchema(Schema):
    id = fields.String()
    dispensed_at = fields.String()
    prescription_number = fields.String()
    patient = fields.Dict()
    pharmacist = fields.Dict()
    products = fields.List(fields.String())
    total_cents = fields.Integer()
    patient_share_cents = fields.Integer()
    reversed_at = fields.String(allow_none=True)


class DispensationListSchema(Schema):
    dispensations = fields.List(fields.Nested(DispensationSummarySchema))
    page = fields.Integer()
    per_page = fields.Integer()
    has_next = fields.Boolean()

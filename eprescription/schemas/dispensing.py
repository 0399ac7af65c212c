"""Request and response bodies of the pharmacy API: scan, lookup by card, dispense, the
pharmacy's dispensations, reverse."""

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from eprescription.domain import dispensing as rules
from eprescription.domain import gs1
from eprescription.domain import prescriptions as prescription_rules
from eprescription.domain.messages import Message
from eprescription.schemas import inputs
from eprescription.schemas.coded import CodedSchema, Template
from eprescription.schemas.pages import page_argument, page_size_argument
from eprescription.schemas.prescriptions import VerifiedSchema
from eprescription.services import counter_access, dispensed_packs, dispensing

SCAN_NOT_BOTH = Message("scan_not_both", "give code, or number with patient_nir, not both")
PRESENTER_WITH_MANUAL_ENTRY = Message(
    "presenter_with_manual_entry", "presenter_nir goes with manual entry (number and patient_nir)"
)
NIR_WITH_NUMBER = Message("nir_with_number", "the patient's NIR goes with the number")
NUMBER_WITH_NIR = Message("number_with_nir", "the prescription number goes with the patient's NIR")
SCAN_ONE_WAY = Message("scan_one_way", "give the QR code, or the number with the patient's NIR")
PACK_REQUIRED = Message("cip13_or_gs1", "give the CIP13 or the GS1 code")
CIP13_DIGITS = Template("cip13_digits", "13 digits")
EXPIRY_FORMAT = Template("expiry_format", "Not a valid date: YYYY-MM-DD, or MM/YYYY as on the box.")
DISPENSE_A_LINE = Template("dispense_a_line", "dispense at least one line")
PRESENTER_NIR = (
    "Number + NIR or card lookup when the patient is not the one at the counter: the NIR of "
    "the person who is (a representative), as read from their own card. With "
    "identity_confirmed, an active representative of the patient opens public and authorised "
    "prescriptions (never private ones); anyone else only public ones."
)


def identity_checked(who: str) -> fields.Boolean:
    """Whether the pharmacist checked the identity of the person at the counter (`who`)."""
    return fields.Boolean(
        load_default=False,
        metadata={
            "description": f"The pharmacist checked the identity of the one at the counter: {who}."
        },
    )


class ScanSchema(CodedSchema):
    code = fields.String(
        validate=validate.Length(min=1, max=256),
        metadata={"description": "The QR text as scanned (EP1.<number>.<access code>)."},
    )
    number = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Manual entry: the prescription number, with patient_nir."},
    )
    patient_nir = inputs.national_id("Manual entry: the patient's NIR as read from their card.")
    identity_confirmed = identity_checked(
        "the patient, or the representative named by presenter_nir"
    )
    presenter_nir = inputs.national_id(PRESENTER_NIR)

    @validates_schema
    def _one_way(self, data, **_):
        if "code" in data and ("number" in data or "patient_nir" in data):
            raise ValidationError(SCAN_NOT_BOTH, "code")
        if "code" in data and "presenter_nir" in data:
            raise ValidationError(PRESENTER_WITH_MANUAL_ENTRY, "presenter_nir")
        if "code" in data or ("number" in data and "patient_nir" in data):
            return
        if "number" in data:
            raise ValidationError(NIR_WITH_NUMBER, "patient_nir")
        if "patient_nir" in data:
            raise ValidationError(NUMBER_WITH_NIR, "number")
        raise ValidationError(SCAN_ONE_WAY, "code")


def card_lookup_arguments(body: dict) -> dict:
    """What a CardLookupRequestSchema body asks card_lookup.lookup_by_card for."""
    asked = ("nir", "identity_confirmed", "presenter_nir", "page", "page_size")
    return {name: body[name] for name in asked if name in body}


def credentials(body: dict) -> counter_access.Credentials:
    """What a scan, a dispensation or a card's prescription opens with, from a ScanSchema body."""
    return counter_access.Credentials(
        qr_text=body.get("code"),
        number=body.get("number"),
        patient_nir=body.get("patient_nir"),
        identity_confirmed=body.get("identity_confirmed", False),
        presenter_nir=body.get("presenter_nir"),
    )


def dispense_request(body: dict, if_match: int | None) -> dispensing.DispenseRequest:
    """What a DispenseSchema body asks the dispensing service for."""
    collector = body["collected_by"]
    return dispensing.DispenseRequest(
        credentials=credentials(body),
        lines=[dispensed_packs.PackLine(**line) for line in body["lines"]],
        collected_by=dispensing.Collector(
            collector["kind"], collector.get("national_id"), collector.get("name")
        ),
        if_match=if_match,
    )


class CollectorSchema(CodedSchema):
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


class PackExpiry(fields.Date):
    """A pack's expiry as typed from the box (domain/gs1.py: printed_expiry)."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        try:
            return gs1.printed_expiry(value)
        except (TypeError, ValueError) as error:
            raise self.make_error("invalid") from error


class PackLineSchema(CodedSchema):
    line = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    cip13 = fields.String(validate=validate.Regexp(r"^[0-9]{13}$", error=CIP13_DIGITS))
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
    expiry = PackExpiry(
        error_messages={"invalid": EXPIRY_FORMAT},
        metadata={"description": "YYYY-MM-DD, or the month printed on the box: MM/YYYY, YYYY-MM."},
    )
    serial = fields.String(validate=validate.Length(min=1, max=20))
    unit_price_cents = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=10_000_000),
        metadata={"description": "Only for a pack the catalog has no price for."},
    )

    @validates_schema
    def _pack(self, data, **_):
        if not data.get("cip13") and not data.get("gs1"):
            raise ValidationError(PACK_REQUIRED, "cip13")


class DispenseSchema(ScanSchema):
    lines = fields.List(
        fields.Nested(PackLineSchema),
        required=True,
        validate=[
            validate.Length(min=1, error=DISPENSE_A_LINE),
            validate.Length(max=2 * prescription_rules.ITEMS_MAX),
        ],
    )
    collected_by = fields.Nested(CollectorSchema, required=True)


class ReversalSchema(CodedSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class CardLookupRequestSchema(CodedSchema):
    """POST /pharmacy/card-lookup: the NIR goes in the body, never in a URL (a URL is logged)."""

    nir = inputs.national_id("The patient's NIR, as read from their card.", required=True)
    page = page_argument()
    page_size = page_size_argument(rules.CARD_PAGE_SIZE, rules.CARD_PAGE_SIZE_MAX)
    identity_confirmed = identity_checked(
        "the patient (all their prescriptions), or the representative of presenter_nir"
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
    """A line as signed, with what was given of it and what its current period leaves."""

    line = fields.Integer()
    medication = fields.Dict()
    dosage = fields.Dict()
    ald = fields.Boolean(metadata={"description": "Long-term illness (ALD): covered at 100 %."})
    status = fields.String()
    quantity_per_period = fields.Integer(
        metadata={"description": "Packs per period: the prescribed quantity, again each renewal."}
    )
    prescribed_total = fields.Integer()
    dispensed = fields.Integer()
    remaining_total = fields.Integer(metadata={"description": "Packs left, all periods together."})
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
    """A prescription as the pharmacist opens it: its verified content and signature checks."""

    id = fields.String()
    number = fields.String()
    status = fields.String()
    version = fields.Integer(
        metadata={"description": "Changes with each dispensation: send it back as If-Match."}
    )
    issued_at = fields.String()
    valid_from = fields.String()
    valid_until = fields.String()
    valid_today = fields.Boolean(metadata={"description": "Within its validity today."})
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
    type = fields.String(attribute="signed.type")
    version = fields.Integer(attribute="signed.version")
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
        attribute="signed.limited_by",
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


class DispensationListArgsSchema(CodedSchema):
    page = page_argument()
    per_page = page_size_argument(20, 100)


class DispensationSummarySchema(Schema):
    """One dispensation as its verified receipt says; one whose receipt cannot be verified
    (`verified` false) has only its id, time, prescription number, patient and the reasons,
    the rest null or empty (GET /dispensations/<id> and its reversal answer 409
    receipt_signature_invalid)."""

    id = fields.String()
    dispensed_at = fields.String()
    prescription_number = fields.String()
    patient = fields.Dict()
    pharmacist = fields.Dict(allow_none=True)
    products = fields.List(fields.String())
    total_cents = fields.Integer(allow_none=True)
    patient_share_cents = fields.Integer(allow_none=True)
    reversed_at = fields.String(allow_none=True)
    verified = fields.Boolean(
        metadata={"description": "The receipt's signature holds and its row agrees with it."}
    )
    verification_problems = fields.List(
        fields.String(), metadata={"description": "Why it cannot be verified (else empty)."}
    )


class DispensationListSchema(Schema):
    dispensations = fields.List(fields.Nested(DispensationSummarySchema))
    page = fields.Integer()
    per_page = fields.Integer()
    has_next = fields.Boolean()

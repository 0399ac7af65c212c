"""Request and response bodies of /api/v1/prescriptions."""

from marshmallow import Schema, fields, validate

from eprescription.domain import prescriptions as rules
from eprescription.domain.acknowledgements import REASON_MAX
from eprescription.models.base import ROW_ID_MAX
from eprescription.schemas import inputs
from eprescription.schemas.pages import page_argument, page_of, page_size_argument


class SubstanceInSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "Substance code from the catalog compositions."},
    )
    strength = fields.String(
        required=True, validate=validate.Length(min=1, max=256), metadata={"example": "500 mg"}
    )
    form = fields.String(
        required=True, validate=validate.Length(min=1, max=256), metadata={"example": "comprimé"}
    )


class ItemInSchema(Schema):
    cis = fields.String(
        validate=validate.Length(min=1, max=16),
        metadata={"description": "The product's CIS (8 digits); or give `substance`."},
    )
    substance = fields.Nested(
        SubstanceInSchema,
        metadata={"description": "Prescribing by active substance (DCI); or give `cis`."},
    )
    dosage_text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=rules.DOSAGE_TEXT_MAX),
        metadata={"example": "1 comprimé 3 fois par jour pendant 5 jours"},
    )
    dose = fields.Decimal(
        places=None,
        as_string=True,
        allow_nan=False,
        validate=validate.Range(min=0, max=rules.DOSE_MAX, min_inclusive=False),
        # A decimal string in JSON; its bounds stay numbers in the OpenAPI document.
        metadata={"minimum": 0, "exclusiveMinimum": True, "maximum": int(rules.DOSE_MAX)},
    )
    dose_unit = fields.String(validate=validate.Length(min=1, max=rules.DOSE_UNIT_MAX))
    frequency_per_day = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=rules.FREQUENCY_PER_DAY_MAX)
    )
    duration_days = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=rules.DURATION_DAYS_MAX)
    )
    quantity = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=rules.QUANTITY_MAX),
        metadata={"description": f"Packs per dispensing period, 1 to {rules.QUANTITY_MAX}."},
    )
    substitutable = fields.Boolean(load_default=True)
    non_substitution_reason = fields.String(
        validate=validate.OneOf(list(rules.NonSubstitutionReason)),
        metadata={"description": "Required when substitutable is false: MTE, EFG or CIF."},
    )
    ald = fields.Boolean(
        load_default=False, metadata={"description": "Affection de longue durée (100 % cover)."}
    )
    renewal_authorised = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The prescriber expressly allows a liste I line to be renewed "
            "(CSP R5132-22; docs/rules.md)."
        },
    )
    initial_prescription = fields.String(
        validate=validate.Length(min=1, max=rules.INITIAL_REFERENCE_MAX),
        metadata={
            "description": "The reference and date of the initial (hospital or specialist) "
            "prescription this line renews, for products whose initial prescription is "
            "reserved (docs/rules.md)."
        },
    )
    fractionation_days = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=rules.FRACTIONATION_DAYS_MAX),
        metadata={
            "description": "A narcotic given this many days at a time, as the prescriber "
            "writes it (CSP R5132-30; docs/rules.md)."
        },
    )
    overlap_allowed = fields.Boolean(
        load_default=False,
        metadata={
            "description": "«Chevauchement autorisé»: the prescriber expressly allows this "
            "narcotic to be given while the same substance from another prescription still "
            "runs (CSP R5132-33; docs/rules.md)."
        },
    )


class PrescriptionIssueSchema(Schema):
    patient_nir = inputs.national_id("The patient's NIR (isikukood in Estonia).", required=True)
    pin = inputs.pin()
    valid_from = fields.Date(metadata={"description": "Default: the issue date."})
    valid_until = fields.Date(
        metadata={"description": "Default: valid_from + 3 months; at most 3 (12 with renewals)."}
    )
    renewals = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=rules.RENEWALS_MAX)
    )
    pickup_mode = fields.String(
        load_default=str(rules.PickupMode.PUBLIC),
        validate=validate.OneOf(list(rules.PickupMode)),
    )
    items = fields.List(
        fields.Nested(ItemInSchema),
        required=True,
        validate=validate.Length(min=1, max=rules.ITEMS_MAX),
    )
    renewal_request = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=ROW_ID_MAX),
        metadata={
            "description": "The id of the patient's pending renewal request this prescription "
            "answers: it is marked renewed with it, in the same transaction."
        },
    )
    acknowledged_warnings = fields.List(
        fields.String(validate=validate.Length(max=500)),
        validate=validate.Length(max=4 * rules.ITEMS_MAX),
        metadata={
            "description": "The keys of the review's warnings the prescriber ticked (POST "
            "/api/v1/prescriptions/review). Every duplicate-therapy and allergy warning "
            "must be acknowledged, here or by acknowledgement_reason: 422 "
            "warnings_not_acknowledged otherwise; stored with the prescription, audited."
        },
    )
    acknowledgement_reason = fields.String(
        validate=validate.Length(max=REASON_MAX),
        metadata={"description": "Why the prescriber signs anyway: covers every warning."},
    )


class PrescriptionDraftSchema(PrescriptionIssueSchema):
    """A prescription to review: what issuing takes, but the PIN."""

    class Meta:
        exclude = ("pin",)


class WarningSchema(Schema):
    key = fields.String(required=True, metadata={"description": "Stable while the line is."})
    kind = fields.String(
        required=True,
        metadata={"description": "duplicate_therapy, duplicate_line, allergy, rule_not_judged"},
    )
    line = fields.Integer(required=True)
    substances = fields.List(fields.String(), required=True)
    message = fields.String(required=True)
    needs_acknowledgement = fields.Boolean(required=True)


class PrescriptionReviewSchema(Schema):
    content = fields.Dict(
        required=True, metadata={"description": "What the signature will cover (no number yet)."}
    )
    warnings = fields.List(
        fields.Nested(WarningSchema),
        required=True,
        metadata={"description": "Grouped per substance: one of each kind per line at most."},
    )


class PrescriptionCancelSchema(Schema):
    pin = inputs.pin()
    reason = fields.String(required=True, validate=validate.Length(min=1, max=rules.REASON_MAX))
    lines = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=rules.ITEMS_MAX)),
        validate=validate.Length(min=1, max=rules.ITEMS_MAX),
        metadata={"description": "The line numbers to cancel; leave out to cancel everything."},
    )


class PrescriptionListArgsSchema(Schema):
    patient = inputs.national_id("The patient's NIR.")
    status = fields.String(validate=validate.OneOf(list(rules.Status)))
    page = page_argument()
    page_size = page_size_argument(20, 100)


# -- responses --------------------------------------------------------------------------------


class MedicationOutSchema(Schema):
    type = fields.String(required=True, metadata={"enum": ["product", "substance"]})
    cis = fields.String()
    substance_code = fields.String()
    name = fields.String(required=True)
    strength = fields.String()
    form = fields.String()


class DosageOutSchema(Schema):
    text = fields.String(required=True)
    dose = fields.String()
    dose_unit = fields.String()
    frequency_per_day = fields.Integer()
    duration_days = fields.Integer()


class ConditionOutSchema(Schema):
    kind = fields.String(
        required=True, metadata={"description": "The rule it was read as (docs/rules.md)."}
    )
    text = fields.String(required=True, metadata={"description": "The BDPM's text."})
    days = fields.Integer()
    specialty = fields.String()


class ItemOutSchema(Schema):
    line = fields.Integer(required=True)
    medication = fields.Nested(MedicationOutSchema, required=True)
    dosage = fields.Nested(DosageOutSchema, required=True)
    quantity = fields.Integer(required=True)
    substitutable = fields.Boolean(required=True)
    non_substitution_reason = fields.String(allow_none=True)
    ald = fields.Boolean(required=True)
    conditions = fields.List(
        fields.Nested(ConditionOutSchema),
        metadata={"description": "The product's prescribing conditions as signed (CIS_CPD)."},
    )
    renewal_authorised = fields.Boolean()
    initial_prescription = fields.String(allow_none=True)
    fractionation_days = fields.Integer(allow_none=True)
    overlap_allowed = fields.Boolean()
    quantity_in_words = fields.String(
        allow_none=True,
        metadata={"description": "On a secure prescription, the quantity written in full."},
    )
    status = fields.String(required=True, metadata={"enum": ["active", "cancelled"]})
    dispensed_quantity = fields.Integer(required=True)


class NamesSchema(Schema):
    """A person's family and given names, as every view of a prescription gives them."""

    family_name = fields.String(required=True)
    given_name = fields.String(required=True)


class PatientOutSchema(NamesSchema):
    identifier = fields.Dict(required=True)
    birth_date = fields.String(allow_none=True)


class PrescriberOutSchema(NamesSchema):
    rpps = fields.String(required=True)


class CancellationOutSchema(Schema):
    cancelled_at = fields.DateTime(required=True)
    reason = fields.String(required=True)
    lines = fields.List(fields.Integer(), required=True)
    jws = fields.String(required=True)


class VerifiedSchema(Schema):
    """Whether the stored prescription agrees with its signed documents (docs/signing.md)."""

    verified = fields.Boolean(
        required=True,
        metadata={
            "description": "false: the stored prescription does not agree with its signed "
            "documents; only id, number and verification_problems are given, and nothing can "
            "be dispensed from it (acting on it answers 409 prescription_signature_invalid)."
        },
    )
    verification_problems = fields.List(
        fields.String(), metadata={"description": "Why it cannot be verified (verified false)."}
    )


class PrescriptionRefSchema(Schema):
    """A prescription named: the id its URLs carry, and its number."""

    id = fields.String(required=True, metadata={"description": "The number, used in URLs."})
    number = fields.String(required=True, metadata={"example": "H24V-YEBT-SCH"})


class PrescriptionHeadSchema(VerifiedSchema, PrescriptionRefSchema):
    """What the prescriber's and the patient's views of a prescription both begin with."""

    status = fields.String(required=True, metadata={"enum": list(rules.Status)})
    version = fields.Integer(required=True)
    issued_at = fields.String(required=True)
    valid_from = fields.String(required=True)
    valid_until = fields.String(required=True)
    renewals = fields.Integer(required=True)


class PrescriptionSchema(PrescriptionHeadSchema):
    pickup_mode = fields.String(required=True)
    patient = fields.Nested(PatientOutSchema, required=True)
    prescriber = fields.Nested(PrescriberOutSchema, required=True)
    items = fields.List(fields.Nested(ItemOutSchema), required=True)
    cancellations = fields.List(fields.Nested(CancellationOutSchema), required=True)
    jws = fields.String(
        required=True,
        metadata={"description": "The prescriber's signature (JWS, ES256, x5c) over the content."},
    )


class RuleNoteSchema(Schema):
    line = fields.Integer(required=True)
    message = fields.String(required=True)


class IssuedPrescriptionSchema(PrescriptionSchema):
    access_code = fields.String(
        required=True, metadata={"description": "Shown once: only its hash is kept."}
    )
    qr_text = fields.String(required=True, metadata={"example": "EP1.H24VYEBTSCH.<code>"})
    rule_notes = fields.List(
        fields.Nested(RuleNoteSchema),
        metadata={"description": "What the prescribing rules could not judge (docs/rules.md)."},
    )


PrescriptionPageSchema = page_of(PrescriptionSchema)

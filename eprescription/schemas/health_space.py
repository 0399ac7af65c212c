"""Request and response bodies of /api/v1/me: the patient's health space."""

from marshmallow import Schema, fields, validate

from eprescription.domain import health_space as rules
from eprescription.domain.prescriptions import PickupMode
from eprescription.schemas import inputs
from eprescription.schemas.audit import InclusionProofSchema
from eprescription.schemas.pages import page_argument, page_of, page_size_argument
from eprescription.schemas.prescriptions import NamesSchema, PrescriptionHeadSchema


class PageArgsSchema(Schema):
    page = page_argument()
    page_size = page_size_argument(20, rules.PAGE_SIZE_MAX)


class MyPrescriptionsArgsSchema(PageArgsSchema):
    status = fields.String(
        load_default=str(rules.View.ACTIVE),
        validate=validate.OneOf(list(rules.View)),
        metadata={
            "description": "active: can still be collected; history: expired, completed, cancelled."
        },
    )


class PersonNameSchema(NamesSchema):
    name = fields.String(required=True)


class PrescriberNameSchema(PersonNameSchema):
    rpps = fields.String(required=True)


class MyLineSchema(Schema):
    line = fields.Integer(required=True)
    medication = fields.String(required=True, metadata={"example": "DOLIPRANE 1000 mg, comprimé"})
    dosage = fields.String(required=True)
    quantity = fields.Integer(required=True, metadata={"description": "Packs per supply."})
    quantity_text = fields.String(required=True)
    substitutable = fields.Boolean(required=True)
    ald = fields.Boolean(required=True)
    status = fields.String(required=True, metadata={"enum": ["active", "cancelled"]})
    total_quantity = fields.Integer(
        required=True, metadata={"description": "Packs over the whole prescription, renewals in."}
    )
    dispensed_quantity = fields.Integer(required=True)
    remaining_quantity = fields.Integer(required=True)
    remaining_now = fields.Integer(
        required=True, metadata={"description": "Packs left in the supply being collected."}
    )
    remaining_text = fields.String(required=True)


class MyPharmacySchema(Schema):
    name = fields.String(required=True)
    town = fields.String(
        required=True, metadata={"description": "From the recorded address; empty if unknown."}
    )
    finess = fields.String(required=True)


class MyGivenProductSchema(Schema):
    name = fields.String(
        required=True, metadata={"description": "The product, as the catalog names it."}
    )
    cip13 = fields.String(required=True)
    pack = fields.String(
        required=True, metadata={"description": "The pack, as the catalog describes it."}
    )


class MySubstitutionSchema(Schema):
    generic_group = fields.String(
        allow_none=True,
        metadata={"description": "The generic group (CIS_GENER) both products belong to."},
    )
    line_substitutable = fields.Boolean(
        required=True, metadata={"description": "The prescriber allowed substitution on this line."}
    )


class MyDispensedLineSchema(Schema):
    line = fields.Integer(required=True, metadata={"description": "The prescription's line."})
    period = fields.Integer(
        required=True, metadata={"description": "1: the first supply, 2: the first renewal, …"}
    )
    prescribed = fields.String(required=True, metadata={"description": "What the line names."})
    product = fields.Nested(MyGivenProductSchema, required=True)
    quantity = fields.Integer(required=True, metadata={"description": "Packs given."})
    batch = fields.String(required=True)
    expiry = fields.Date(required=True)
    substituted = fields.Boolean(
        required=True,
        metadata={
            "description": "Another product than the prescribed one, from its generic group."
        },
    )
    substitution = fields.Nested(
        MySubstitutionSchema, allow_none=True, metadata={"description": "Why, when substituted."}
    )
    unit_price_cents = fields.Integer(required=True)
    total_cents = fields.Integer(required=True)
    reimbursement_rate = fields.Integer(required=True, metadata={"description": "Percent."})
    covered_cents = fields.Integer(required=True, metadata={"description": "Paid by insurance."})
    patient_share_cents = fields.Integer(required=True, metadata={"description": "Paid by you."})


class MyCollectorSchema(Schema):
    kind = fields.String(required=True, metadata={"enum": ["patient", "representative", "other"]})
    name = fields.String(allow_none=True, metadata={"description": "As the pharmacy wrote it."})


class MyDispensationSchema(Schema):
    id = fields.String(required=True)
    dispensed_at = fields.DateTime(required=True)
    pharmacy = fields.Nested(MyPharmacySchema, required=True)
    lines = fields.List(fields.Nested(MyDispensedLineSchema), required=True)
    collected_by = fields.Nested(
        MyCollectorSchema, required=True, metadata={"description": "Who took the packs away."}
    )
    total_cents = fields.Integer(required=True)
    covered_cents = fields.Integer(required=True, metadata={"description": "Paid by insurance."})
    patient_share_cents = fields.Integer(required=True, metadata={"description": "Paid by you."})
    reversed = fields.Boolean(
        required=True,
        metadata={"description": "Undone by the pharmacy: the packs count as not collected."},
    )
    reversed_at = fields.DateTime(allow_none=True)
    reversal_reason = fields.String(allow_none=True)


class MyPrescriptionSchema(PrescriptionHeadSchema):
    view = fields.String(required=True, metadata={"enum": list(rules.View)})
    relation = fields.String(
        required=True,
        metadata={
            "enum": ["patient", "representative"],
            "description": "representative: the prescription of someone you represent.",
        },
    )
    patient = fields.Nested(PersonNameSchema, required=True)
    prescriber = fields.Nested(PrescriberNameSchema, required=True)
    days_left = fields.Integer(
        required=True, metadata={"description": "0 on the last day; negative once expired."}
    )
    validity_text = fields.String(required=True)
    renewal_in_progress = fields.Integer(
        required=True, metadata={"description": "The renewal being collected; 0: first supply."}
    )
    pickup_mode = fields.String(required=True, metadata={"enum": list(PickupMode)})
    pickup_mode_prescribed = fields.String(required=True, metadata={"enum": list(PickupMode)})
    remaining_quantity = fields.Integer(required=True)
    lines = fields.List(fields.Nested(MyLineSchema), required=True)
    dispensations = fields.List(
        fields.Nested(MyDispensationSchema),
        required=True,
        metadata={"description": "What pharmacies gave, oldest first, reversals included."},
    )
    qr_svg_url = fields.String(
        allow_none=True, metadata={"description": "The QR code image, while it can be collected."}
    )


class MyPrescriptionDetailSchema(MyPrescriptionSchema):
    qr_text = fields.String(
        allow_none=True,
        metadata={"description": "The QR code's text, while it can be collected; else null."},
    )


MyPrescriptionPageSchema = page_of(MyPrescriptionSchema)


class PickupModeSchema(Schema):
    pickup_mode = fields.String(required=True, validate=validate.OneOf(list(PickupMode)))


class AccessLogEntrySchema(Schema):
    occurred_at = fields.DateTime(required=True)
    actor_name = fields.String(required=True)
    actor_role = fields.String(required=True)
    organisation = fields.String(required=True)
    software = fields.String(
        metadata={"description": "the program the actor used, if any", "example": "MedLogic 4.2"}
    )
    action = fields.String(required=True, metadata={"example": "read"})
    object_type = fields.String(required=True)
    object_id = fields.String(required=True)
    outcome = fields.String(required=True, metadata={"example": "success"})
    what = fields.String(required=True, metadata={"example": "opened prescription H24V-YEBT-SCH"})
    leaf_index = fields.Integer(
        allow_none=True,
        metadata={"description": "its place in the sealed audit log (null: not yet)"},
    )
    leaf_data = fields.String(
        allow_none=True, metadata={"description": "the leaf's exact bytes, base64 (RFC 9162)"}
    )
    inclusion_proof = fields.Nested(
        InclusionProofSchema,
        allow_none=True,
        metadata={"description": "against GET /api/v1/audit/checkpoints/{tree_size}"},
    )


AccessLogPageSchema = page_of(AccessLogEntrySchema, "AccessLogPageSchema")


class RepresentativeInSchema(Schema):
    nir = inputs.national_id("Their NIR (isikukood in Estonia), as on their card.", required=True)
    family_name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "Their family name, as on their card (checked with the NIR)."},
    )
    valid_until = fields.Date(
        load_default=None, metadata={"description": "Last day of access; none: until revoked."}
    )


class RepresentativeSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(rules.RepresentativeKind)})
    valid_until = fields.Date(allow_none=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True)
    active = fields.Boolean(required=True)
    revocable = fields.Boolean(required=True)


class RepresentativesSchema(Schema):
    named = fields.List(
        fields.Nested(RepresentativeSchema),
        required=True,
        metadata={"description": "The people you named (and the parents recorded for you)."},
    )
    represented = fields.List(
        fields.Nested(RepresentativeSchema),
        required=True,
        metadata={"description": "The people you represent today."},
    )

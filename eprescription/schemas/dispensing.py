"""Request and response bodies of the pharmacy API: scan, lookup by card, dispense, reverse."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from eprescription.domain import dispensing as rules
from eprescription.domain import prescriptions as prescription_rules


class ScanSchema(Schema):
    code = fields.String(
        validate=validate.Length(min=1, max=256),
        metadata={"description": "The QR text as scanned (EP1.<number>.<access code>)."},
    )
    number = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Manual entry: the prescription number, with patient_nir."},
    )
    patient_nir = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Manual entry: the patient's NIR as read from their card."},
    )
    identity_confirmed = fields.Boolean(
        load_default=False,
        metadata={"description": "The pharmacist checked that the patient is here in person."},
    )

    @validates_schema
    def _one_way(self, data, **_):
        if "code" in data and ("number" in data or "patient_nir" in data):
            raise ValidationError("give code, or number with patient_nir, not both", "code")
        if "code" not in data and not ("number" in data and "patient_nir" in data):
            raise ValidationError("give the QR code, or the number with the patient's NIR", "code")


class CollectorSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(rules.COLLECTOR_KINDS))
    national_id = fields.String(validate=validate.Length(min=1, max=32))
    name = fields.String(validate=validate.Length(min=1, max=256))

    @validates_schema
    def _identified(self, data, **_):
        if data["kind"] != "patient" and not (data.get("national_id") or data.get("name")):
            raise ValidationError("say who collected it (national_id or name)", "national_id")


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


class CardLookupArgsSchema(Schema):
    identity_confirmed = fields.Boolean(load_default=False)


class DispensingCheckSchema(Schema):
    name = fields.String()
    ok = fields.Boolean()
    detail = fields.String()


class RenewalPeriodSchema(Schema):
    current = fields.Integer()
    of = fields.Integer()
    remaining = fields.Integer()


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


class VerifiedSignatureSchema(Schema):
    valid = fields.Boolean()
    checks = fields.List(fields.Nested(DispensingCheckSchema))


class PharmacistPrescriptionSchema(Schema):
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
    prescriptions = fields.List(fields.Nested(PharmacistPrescriptionSchema))
    withheld = fields.Integer(
        metadata={"description": "Private or authorised ones not shown: confirm identity."}
    )


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
    prescription_status = fields.String()
    prescription_version = fields.Integer()
    reversed_at = fields.String(allow_none=True)
    jws = fields.String()

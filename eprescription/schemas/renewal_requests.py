"""Request and response bodies of the renewal requests (patient and prescriber)."""

from marshmallow import Schema, fields, validate

from eprescription.domain import renewals as rules
from eprescription.schemas.pages import list_of
from eprescription.schemas.prescriptions import PrescriptionRefSchema


class RenewalAskSchema(Schema):
    message = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=rules.MESSAGE_MAX),
        metadata={"description": "An optional short message for the prescriber."},
    )


class RenewalDeclineSchema(Schema):
    message = fields.String(
        required=True,
        validate=validate.Length(min=1, max=rules.MESSAGE_MAX),
        metadata={"description": "Why it is declined, for the patient (required)."},
    )


class RenewalListArgsSchema(Schema):
    status = fields.String(
        load_default=str(rules.RequestStatus.PENDING),
        validate=validate.OneOf(list(rules.RequestStatus)),
    )


class NameSchema(Schema):
    name = fields.String(required=True)


class RenewalRequestSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(
        required=True,
        metadata={
            "enum": list(rules.RequestStatus),
            "description": "As of now: a pending request reads expired once lapses_at is past.",
        },
    )
    requested_at = fields.DateTime(required=True)
    lapses_at = fields.DateTime(
        required=True, metadata={"description": "8 days after the request, if still pending."}
    )
    patient_message = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decline_message = fields.String(allow_none=True)
    relation = fields.String(
        allow_none=True,
        metadata={
            "enum": ["patient", "representative", None],
            "description": "For the patient: whose prescription it is (null for prescribers).",
        },
    )
    patient = fields.Nested(NameSchema, required=True)
    prescriber = fields.Nested(NameSchema, required=True)
    prescription = fields.Nested(PrescriptionRefSchema, required=True)
    medications = fields.List(fields.String(), required=True)
    renewed_prescription = fields.Nested(
        PrescriptionRefSchema,
        allow_none=True,
        metadata={"description": "The new prescription, once renewed."},
    )


RenewalRequestListSchema = list_of(RenewalRequestSchema)

"""The query (or _search form) parameters of the FHIR searches: by prescription, or by patient
with status and paging (unknown parameters, such as _format, are ignored)."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from eprescription.domain import health_space
from eprescription.schemas.fhir import REFERENCE_MAX

COUNT_DEFAULT = 50
IDENTIFIER_MAX = 120
REQUEST_STATUSES = ("active", "completed", "cancelled", "stopped")
DISPENSE_STATUSES = ("completed", "entered-in-error")


def _statuses(codes: tuple[str, ...]) -> fields.String:
    def check(value: str) -> None:
        if any(code not in codes for code in value.split(",")):
            raise ValidationError("each one of: " + ", ".join(codes))

    return fields.String(
        validate=[validate.Length(min=1, max=100), check],
        metadata={"description": "Comma-separated, any of: " + ", ".join(codes)},
    )


class _ByPatientSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    patient_identifier = fields.String(
        data_key="patient.identifier",
        validate=validate.Length(min=1, max=IDENTIFIER_MAX),
        metadata={
            "description": "The patient's national identifier, system|value or value (POST "
            "the search to _search to keep it out of URLs)."
        },
    )
    count = fields.Integer(
        data_key="_count",
        load_default=COUNT_DEFAULT,
        validate=validate.Range(1, health_space.PAGE_SIZE_MAX),
        metadata={"description": "Matches per page (with patient.identifier)."},
    )
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(1, health_space.PAGE_MAX),
        metadata={"description": "Which page, from 1 (with patient.identifier)."},
    )


def _reference(description: str, data_key: str | None = None) -> fields.String:
    return fields.String(
        validate=validate.Length(min=1, max=REFERENCE_MAX),
        metadata={"description": description + " Or patient.identifier: exactly one."},
        data_key=data_key,
    )


class MedicationRequestQuerySchema(_ByPatientSchema):
    group_identifier = _reference(
        "The prescription number, optionally as system|number.", data_key="group-identifier"
    )
    status = _statuses(REQUEST_STATUSES)


class MedicationDispenseQuerySchema(_ByPatientSchema):
    prescription = _reference(
        "The prescription number (every line), or MedicationRequest/{id} for one line."
    )
    status = _statuses(DISPENSE_STATUSES)

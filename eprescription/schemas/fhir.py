"""The query parameters of the FHIR searches (unknown ones, such as _format, are ignored)."""

from marshmallow import EXCLUDE, Schema, fields, validate

REFERENCE_MAX = 80


class MedicationRequestSearchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    group_identifier = fields.String(
        required=True,
        data_key="group-identifier",
        validate=validate.Length(min=1, max=REFERENCE_MAX),
        metadata={"description": "The prescription number, optionally as system|number."},
    )


class MedicationDispenseSearchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    prescription = fields.String(
        required=True,
        validate=validate.Length(min=1, max=REFERENCE_MAX),
        metadata={
            "description": "The prescription number (every line), or MedicationRequest/{id} "
            "for one line."
        },
    )

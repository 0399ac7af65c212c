"""The query parameters of the FHIR searches (unknown ones, such as _format, are ignored)."""

from marshmallow import EXCLUDE, Schema, fields, validate

REFERENCE_MAX = 80


class _SearchSchema(Schema):
    class Meta:
        unknown = EXCLUDE


def _prescription_reference(description: str, data_key: str | None = None) -> fields.String:
    """The required search parameter that names the prescription (or one of its lines)."""
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=REFERENCE_MAX),
        metadata={"description": description},
        data_key=data_key,
    )


class MedicationRequestSearchSchema(_SearchSchema):
    group_identifier = _prescription_reference(
        "The prescription number, optionally as system|number.", data_key="group-identifier"
    )


class MedicationDispenseSearchSchema(_SearchSchema):
    prescription = _prescription_reference(
        "The prescription number (every line), or MedicationRequest/{id} for one line."
    )

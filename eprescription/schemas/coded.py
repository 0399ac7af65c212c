"""Marshmallow's refusals as coded sentences (domain/messages.py): the API says them in
marshmallow's English, the pages word them by their code, so both faces refuse alike."""

from string import Formatter

from marshmallow import Schema, fields, validate

from eprescription.domain.messages import Message


class Template(str):
    """A message template marshmallow formats (`.format(min=…)`) into a coded Message."""

    code: str

    def __new__(cls, code: str, english: str) -> "Template":
        template = super().__new__(cls, english)
        template.code = code
        return template

    def format(self, *_, **params: object) -> Message:
        # Only the parameters the sentence names: never `input`, what was typed (a NIR…).
        named = {name for _, name, _, _ in Formatter().parse(self) if name}
        return Message(self.code, str(self), **{k: v for k, v in params.items() if k in named})


# The codes of marshmallow's own sentences (their English stays marshmallow's), by the field
# class that declares them and their key.
FIELD_CODES = {
    fields.Field: {
        "required": "field_required",
        "null": "field_null",
        "validator_failed": "field_invalid",
    },
    fields.String: {"invalid": "not_a_string", "invalid_utf8": "not_utf8"},
    fields.Number: {"invalid": "not_a_number", "too_large": "number_too_large"},
    fields.Integer: {"invalid": "not_an_integer"},
    fields.Boolean: {"invalid": "not_a_boolean"},
    fields.Date: {"invalid": "not_a_date"},
    fields.List: {"invalid": "not_a_list"},
    fields.Nested: {"type": "not_an_object"},
    fields.Mapping: {"invalid": "not_an_object"},
}
LENGTH_CODES = {
    "message_min": "length_at_least",
    "message_max": "length_at_most",
    "message_all": "length_between",
    "message_equal": "length_equal",
}
RANGE_CODES = {
    "message_min": "at_least",
    "message_max": "at_most",
    "message_all": "between_inclusive",
}
ONE_OF = Template("must_be_one_of", validate.OneOf.default_message)


def code_field(field: fields.Field) -> None:
    """Swap the field's and its validators' default sentences for coded ones (the same English);
    a sentence the schema wrote itself stays."""
    for key, message in list(field.error_messages.items()):
        for kind in type(field).__mro__:
            default = getattr(kind, "default_error_messages", {}).get(key)
            if default is not None:
                code = FIELD_CODES.get(kind, {}).get(key)
                if message == default and code:
                    field.error_messages[key] = Template(code, default)
                break
    for validator in field.validators:
        _code_validator(validator)
    if isinstance(field, fields.List):
        code_field(field.inner)


def _code_validator(validator: object) -> None:
    if isinstance(validator, validate.Length) and validator.error is None:
        _code_messages(validator, LENGTH_CODES)
    elif isinstance(validator, validate.Range) and validator.error is None:
        if validator.min_inclusive and validator.max_inclusive:  # the codes say "at least"…
            _code_messages(validator, RANGE_CODES)
    elif (
        isinstance(validator, validate.OneOf) and validator.error == validate.OneOf.default_message
    ):
        validator.error = ONE_OF


def _code_messages(validator: object, codes: dict[str, str]) -> None:
    for name, code in codes.items():
        setattr(validator, name, Template(code, getattr(validator, name)))


class CodedSchema(Schema):
    """A request body whose refusals are coded: its fields', its validators', unknown fields."""

    error_messages = {  # noqa: RUF012 (marshmallow's own class attribute)
        "unknown": Message("unknown_field", "Unknown field."),
        "type": Message("invalid_input_type", "Invalid input type."),
    }

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        code_field(field_obj)

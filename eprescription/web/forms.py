"""Pages read their forms with the API's marshmallow schemas (webargs, location="form"): a
field the API refuses is refused on the page too, as ValidationFailed with its errors."""

from typing import NoReturn

from marshmallow import EXCLUDE, Schema, ValidationError
from webargs.flaskparser import FlaskParser

from eprescription.domain.errors import ValidationFailed


class _FormParser(FlaskParser):
    """webargs' Flask parser, whose refusals are the domain's (a page, never webargs' 422)."""

    def handle_error(
        self, error: ValidationError, req, schema, *, error_status_code, error_headers
    ) -> NoReturn:
        messages = error.messages if isinstance(error.messages, dict) else {}
        raise ValidationFailed(errors=messages.get("form", messages))


_parser = _FormParser()


def read(schema: Schema) -> dict:
    """The request's form through `schema` (unknown fields, such as csrf_token, ignored)."""
    return _parser.parse(schema, location="form", unknown=EXCLUDE)

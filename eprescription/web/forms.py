"""Pages read their forms with the API's marshmallow schemas (webargs, location="form"): a
field the API refuses is refused on the page too, as ValidationFailed with its errors."""

from typing import NoReturn

from marshmallow import EXCLUDE, Schema, ValidationError
from webargs.flaskparser import FlaskParser

from eprescription.domain.errors import ValidationFailed


class _FormParser(FlaskParser):
    """webargs' Flask parser, whose refusals are the domain's (a page, never webargs' 422), and
    for which a field left blank is a field not given, as a JSON body leaves it out."""

    def handle_error(
        self, error: ValidationError, req, schema, *, error_status_code, error_headers
    ) -> NoReturn:
        messages = error.messages if isinstance(error.messages, dict) else {}
        located = messages.get("form", messages.get("query", messages))
        raise ValidationFailed(errors=located)

    def load_form(self, req, schema) -> dict:
        return _given(req.form)

    def load_querystring(self, req, schema) -> dict:
        return _given(req.args)


def _given(fields) -> dict:
    """Each field once (its first value), blank ones left out (the schema's defaults and
    `required` then say what a blank means)."""
    return {name: value for name, value in fields.items() if value.strip()}


_parser = _FormParser()


def read(schema: Schema, location: str = "form") -> dict:
    """The request's form (or query string) through `schema`; unknown fields, such as
    csrf_token, ignored."""
    return _parser.parse(schema, location=location, unknown=EXCLUDE)

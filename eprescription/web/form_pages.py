"""A page whose form is read, acted on in one unit of work, or shown again with each field's
refusal in the page language."""

from collections.abc import Callable
from typing import Any

from flask import render_template, request
from marshmallow import Schema

from eprescription.domain.errors import DomainError
from eprescription.domain.messages import Message
from eprescription.errors import status_for
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import unit_of_work
from eprescription.web import forms
from eprescription.web.auth import current_account
from eprescription.web.messages import MESSAGES, error_title, message


def submitted(
    template: str,
    schema: Schema,
    act: Callable[[UnitOfWork, dict], Any],
    *,
    first: str,
    renamed: dict[str, str] | None = None,
    **context: Any,
) -> tuple[Any, Any]:
    """GET: (None, the form). POST: the form read through `schema` and `act` done in one unit of
    work: (what it returned, None); refused, nothing written: (None, the form again with each
    field's messages and its status). `renamed`: the service's field names the form names
    otherwise; a refusal of no field is said on the `first`. The template gets `errors`,
    `refusal` (the refusal's sentence), and `context`."""
    errors: dict = {}
    refusal, status = None, None
    if request.method == "POST":
        try:
            form = forms.read(schema)
            with unit_of_work(current_account()) as uow:
                return act(uow, form), None
        except DomainError as error:
            status, refusal = status_for(error), _summary(error)
            errors = {
                (renamed or {}).get(name, name): [message(text) for text in texts]
                for name, texts in (error.errors or {}).items()
            } or {first: [refusal]}
    page = render_template(template, errors=errors, refusal=refusal, **context)
    return None, (page, status)


def _summary(error: DomainError) -> str:
    """The refusal in one sentence of the page language: its own, or its kind's title (a
    detail with no code is English only)."""
    detail = error.detail
    if isinstance(detail, Message) and detail.code in MESSAGES:
        return message(detail)
    return error_title(error.code)

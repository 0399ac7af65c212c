"""Safe retries at the API's edge: the Idempotency-Key header, documented once, and a view's
answer given once per key (services/idempotency.py keeps the keys and their sealed answers)."""

import json
from collections.abc import Callable
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import Schema

from eprescription.api.security import current_account
from eprescription.services import idempotency
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import unit_of_work

HEADER = "Idempotency-Key"
PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the call safe to retry (docs/prescriptions.md, 'Safe retries'): a retry with "
        "the same key and body gets the first answer byte for byte and nothing is done twice; "
        "the same key with another body is refused (idempotency_key_reused). Unique per "
        "account and path, kept 24 hours."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.KEY_MAX},
}

SECRETS = frozenset({"pin"})  # the body fields a key is not tied to (_hashed_body)


def keyed(view: Callable) -> Callable:
    """Document the optional Idempotency-Key header on a view that answers with answer_once."""
    return Blueprint.doc(parameters=[PARAMETER])(view)


def render(schema: Schema, data: Any) -> bytes:
    """The response body of `data` dumped by `schema`: the bytes a replay returns as they are."""
    return json.dumps(schema.dump(data), ensure_ascii=False, sort_keys=True).encode()


def _hashed_body() -> bytes:
    """The body the key is tied to: the request's, but for its secrets (the signing PIN), which
    are not kept, not even hashed (a 4-digit PIN's hash is no secret)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not SECRETS & body.keys():
        return request.get_data()
    return json.dumps({name: value for name, value in body.items() if name not in SECRETS}).encode()


def answer_once(schema: Schema, status: int, produce: Callable[[UnitOfWork], Any]) -> Response:
    """The view's answer (`produce(uow)` dumped by `schema`, with `status`), or, for a retry
    with this request's Idempotency-Key, the first answer to it: the key is claimed and
    answered in the one unit of work `produce` runs in, the caller's."""
    retry = idempotency.Retry(
        request.headers.get(HEADER), f"{request.method} {request.path}", _hashed_body()
    )
    with unit_of_work(current_account()) as uow:
        answer = idempotency.answer_once(uow, retry, status, lambda: render(schema, produce(uow)))
    return Response(answer.body, status=answer.status, mimetype="application/json")

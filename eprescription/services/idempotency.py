"""Idempotency-Key records: claim a key in the use case's own transaction, replay the first
answer. A refused or failed call rolls its claim back with everything else, so the client may
correct and retry with the same key."""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import CursorResult, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from eprescription.domain.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    ValidationFailed,
)
from eprescription.models import IdempotencyKey
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

KEY_MAX = 128
IN_PROGRESS_TIMEOUT = timedelta(minutes=5)  # a claim left without an answer is taken over


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to a key, as its caller gave it (the status is the caller's word)."""

    status: int
    body: bytes


def request_hash(body: bytes) -> str:
    """SHA-256 of the canonical JSON of the body (so spacing and key order do not count)."""
    try:
        return hashlib.sha256(canonical_json(json.loads(body))).hexdigest()
    except ValueError:
        return hashlib.sha256(body).hexdigest()


def claim(uow: UnitOfWork, scope: str, key: str, digest: str) -> StoredResponse | None:
    """Claim `key` for this request in the unit of work's transaction (None), or the answer
    the first call with it gave.

    The key's row goes in with INSERT … ON CONFLICT DO NOTHING (one statement): a concurrent
    call with the same key waits on the unique index until the first one ends. If it
    committed, nothing is inserted and this call reads its answer; if it rolled back (it was
    refused), this claim goes through. Another body with the same key is refused
    (IdempotencyKeyReused), and so is, while it is recent, a claim stored without an answer
    (IdempotencyKeyInProgress).
    """
    if not 1 <= len(key) <= KEY_MAX or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            "The Idempotency-Key header is 1 to 128 printable ASCII characters.",
            errors={"Idempotency-Key": ["1 to 128 printable ASCII characters"]},
        )
    session, account_id = uow.session, uow.require_account().id
    table = cast(Table, IdempotencyKey.__table__)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    claimed = session.execute(
        insert(table)
        .values(
            account_id=account_id, scope=scope, key=key, request_hash=digest, created_at=uow.now
        )
        .on_conflict_do_nothing(index_elements=[table.c.account_id, table.c.scope, table.c.key])
        .returning(table.c.id)
    ).first()
    if claimed is not None:
        return None
    # The key is taken: its first call has ended, committed.
    for _ in range(2):
        row = session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.account_id == account_id)
            .where(IdempotencyKey.scope == scope)
            .where(IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        )
        if row is None:
            break
        if row.request_hash != digest:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was first used with another request body; use a new key."
            )
        if row.response_status is not None and row.response_body is not None:
            return StoredResponse(row.response_status, row.response_body)
        if uow.now - row.created_at < IN_PROGRESS_TIMEOUT:
            raise IdempotencyKeyInProgress(
                "The first request with this Idempotency-Key is still running; retry later."
            )
        if _take_over(uow, row):  # a claim left without an answer: this call answers it
            return None
    raise IdempotencyKeyInProgress("The Idempotency-Key is being claimed; retry.")


def _take_over(uow: UnitOfWork, row: IdempotencyKey) -> bool:
    """Move a stale answerless claim to this call, unless another call did it first."""
    result = uow.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row.id)
        .where(IdempotencyKey.created_at == row.created_at)
        .where(IdempotencyKey.response_body.is_(None))
        .values(created_at=uow.now)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult, result).rowcount == 1  # an UPDATE's result, typed as Result


def store(uow: UnitOfWork, scope: str, key: str, response: StoredResponse) -> None:
    """Record the answer to a claimed key, in the use case's transaction."""
    uow.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.account_id == uow.require_account().id)
        .where(IdempotencyKey.scope == scope)
        .where(IdempotencyKey.key == key)
        .values(response_status=response.status, response_body=response.body)
    )

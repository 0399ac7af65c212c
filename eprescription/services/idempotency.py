"""Idempotency-Key records: claim a key, replay the first answer, free it after a refusal."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from eprescription.domain.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    ValidationFailed,
)
from eprescription.models import Account, IdempotencyKey
from eprescription.signing.canonical import canonical_json

KEY_MAX = 128
IN_PROGRESS_TIMEOUT = timedelta(minutes=5)  # a crashed first call frees its key


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes


def request_hash(body: bytes) -> str:
    """SHA-256 of the canonical JSON of the body (so spacing and key order do not count)."""
    try:
        return hashlib.sha256(canonical_json(json.loads(body))).hexdigest()
    except ValueError:
        return hashlib.sha256(body).hexdigest()


def claim(
    session: Session, account: Account, scope: str, key: str, digest: str, now: datetime
) -> StoredResponse | None:
    """Claim `key` for this request (committed at once), or what the first call answered."""
    if not 1 <= len(key) <= KEY_MAX or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            "The Idempotency-Key header is 1 to 128 printable ASCII characters.",
            errors={"Idempotency-Key": ["1 to 128 printable ASCII characters"]},
        )
    for _ in range(2):
        row = session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.account_id == account.id)
            .where(IdempotencyKey.scope == scope)
            .where(IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        )
        if row is None:
            session.add(
                IdempotencyKey(
                    account_id=account.id, scope=scope, key=key, request_hash=digest, created_at=now
                )
            )
            try:
                session.commit()
                return None
            except IntegrityError:
                session.rollback()
                continue
        if row.request_hash != digest:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was first used with another request body; use a new key."
            )
        if row.response_body is not None:
            return StoredResponse(row.response_status, row.response_body)
        if now - row.created_at < IN_PROGRESS_TIMEOUT:
            raise IdempotencyKeyInProgress(
                "The first request with this Idempotency-Key is still running; retry later."
            )
        row.created_at = now  # its first call died: this one takes over
        session.commit()
        return None
    raise IdempotencyKeyInProgress("The Idempotency-Key is being claimed; retry.")


def store(
    session: Session, account: Account, scope: str, key: str, response: StoredResponse
) -> None:
    """Record the answer to a claimed key, in the caller's transaction (no commit)."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.account_id == account.id)
        .where(IdempotencyKey.scope == scope)
        .where(IdempotencyKey.key == key)
        .values(response_status=response.status, response_body=response.body)
    )


def release(session: Session, account: Account, scope: str, key: str) -> None:
    """Forget a claimed key after a refusal, so the client may correct and retry."""
    session.rollback()
    row = session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.account_id == account.id)
        .where(IdempotencyKey.scope == scope)
        .where(IdempotencyKey.key == key)
        .where(IdempotencyKey.response_body.is_(None))
    )
    if row is not None:
        session.delete(row)
        session.commit()

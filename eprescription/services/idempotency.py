"""Idempotency-Key records: claim a key in the use case's own transaction, replay the first
answer (sealed at rest), prune answers after a day. A refused or failed call, or a killed
worker, rolls its claim back with everything else, so the client may retry at once."""

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import CursorResult, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from eprescription.domain.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    ValidationFailed,
)
from eprescription.models import IdempotencyKey
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json
from eprescription.signing.keyring import UnknownKeyId

KEY_MAX = 128
RETENTION = timedelta(hours=24)  # `flask idempotency prune` deletes older answers
SEALED_V1 = b"\x01"  # the version byte of a sealed answer (AES-256-GCM, see _seal)
NONCE_LENGTH = 12


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
    refused, it failed, its worker was killed and the database ended its transaction), this
    claim goes through at once. Another body with the same key is refused
    (IdempotencyKeyReused). A claim commits only with its answer, so a row without one was
    left by an earlier release: this call takes it over at once.
    """
    if not 1 <= len(key) <= KEY_MAX or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            "The Idempotency-Key header is 1 to 128 printable ASCII characters.",
            errors={"Idempotency-Key": ["1 to 128 printable ASCII characters"]},
        )
    session, account_id = uow.session, uow.require_account().id
    table = cast(Table, IdempotencyKey.__table__)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for _ in range(2):  # a second round only if the row went (pruned) or moved meanwhile
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
        row = session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.account_id == account_id)
            .where(IdempotencyKey.scope == scope)
            .where(IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        )
        if row is None:
            continue
        if row.response_status is not None and row.response_body is not None:
            if row.request_hash != digest:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was first used with another request body; use a new key."
                )
            return StoredResponse(row.response_status, _open(uow, row))
        if _take_over(uow, row, digest):
            return None
    raise IdempotencyKeyInProgress("The Idempotency-Key is being claimed; retry.")


def _take_over(uow: UnitOfWork, row: IdempotencyKey, digest: str) -> bool:
    """Move an answerless row to this call, unless another call did it first."""
    result = uow.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row.id)
        .where(IdempotencyKey.response_body.is_(None))
        .values(created_at=uow.now, request_hash=digest)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult, result).rowcount == 1  # an UPDATE's result, typed as Result


def store(uow: UnitOfWork, scope: str, key: str, response: StoredResponse) -> None:
    """Record the answer to a claimed key, sealed, in the use case's transaction."""
    account_id = uow.require_account().id
    uow.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.account_id == account_id)
        .where(IdempotencyKey.scope == scope)
        .where(IdempotencyKey.key == key)
        .values(
            response_status=response.status,
            response_body=_seal(uow, account_id, scope, key, response.body),
        )
    )


@dataclass(frozen=True)
class Retry:
    """What makes a call retryable: its Idempotency-Key (None: the call is not keyed), the
    scope the key is unique in (method and path), and the body whose hash the key is tied to."""

    key: str | None
    scope: str
    body: bytes


def answer_once(
    uow: UnitOfWork, retry: Retry, status: int, produce: Callable[[], bytes]
) -> StoredResponse:
    """Run the use case behind `produce` (which returns the response body) once per key: the
    key is claimed first in this unit of work, and the answer is stored with what it answers.

    A retry gets the first answer byte for byte (`status` is the caller's word, stored with
    it); the same key with another body is refused (IdempotencyKeyReused). A concurrent call
    with the same key waits for this one to end, then replays its answer; when this one is
    refused and so rolled back, its claim goes with it and the waiting call runs in its turn.
    Without a key, `produce` simply runs.
    """
    if retry.key is not None:
        stored = claim(uow, retry.scope, retry.key, request_hash(retry.body))
        if stored is not None:
            return stored
    answer = StoredResponse(status, produce())
    if retry.key is not None:
        store(uow, retry.scope, retry.key, answer)
    return answer


def prune(uow: UnitOfWork, older_than: timedelta = RETENTION) -> int:
    """Delete the keys claimed more than `older_than` ago (their answers with them): a retry
    later than that is a new request. Returns how many went."""
    result = uow.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < uow.now - older_than)
    )
    return cast(CursorResult, result).rowcount


# A receipt names the pharmacist and whoever collected (with their NIR when given): stored
# answers are sealed so the table holds nothing readable for a day (docs/security.md).


def _sealing_key(key_encryption_key: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"eprescription idempotency v1"
    ).derive(key_encryption_key)
    return AESGCM(key)


def _bound_to(account_id: int, scope: str, key: str) -> bytes:
    """The associated data: an answer copied onto another key or account does not open."""
    return f"{account_id}\n{scope}\n{key}".encode()


def _seal(uow: UnitOfWork, account_id: int, scope: str, key: str, body: bytes) -> bytes:
    """1 ‖ key id length ‖ key id ‖ nonce ‖ ciphertext, under the current key-encryption key."""
    keyring = uow.settings.keyring
    key_id = keyring.current_id.encode()
    nonce = os.urandom(NONCE_LENGTH)
    sealed = _sealing_key(keyring.current).encrypt(nonce, body, _bound_to(account_id, scope, key))
    return SEALED_V1 + bytes([len(key_id)]) + key_id + nonce + sealed


def _open(uow: UnitOfWork, row: IdempotencyKey) -> bytes:
    """The stored answer; one stored in clear before sealing (a JSON body) is returned as is
    until `prune` removes it."""
    blob = cast(bytes, row.response_body)
    if not blob.startswith(SEALED_V1):
        return blob
    id_end = 2 + blob[1]
    key_id, nonce, sealed = (
        blob[2:id_end],
        blob[id_end : id_end + NONCE_LENGTH],
        blob[id_end + NONCE_LENGTH :],
    )
    try:
        key_encryption_key = uow.settings.keyring.key(key_id.decode("ascii", "replace"))
        return _sealing_key(key_encryption_key).decrypt(
            nonce, sealed, _bound_to(row.account_id, row.scope, row.key)
        )
    except (InvalidTag, UnknownKeyId) as error:
        raise IdempotencyKeyReused(
            "The first answer to this Idempotency-Key cannot be opened; look the dispensation "
            "up and use a new key."
        ) from error

"""Key rotation: a new service key, what each key-encryption key still holds, and the rewrap
that moves old material to the current key-encryption key (docs/signing.md)."""

from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, update

from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import ConfigurationError
from eprescription.models import (
    CertificateAuthority,
    PrescriberCredential,
    Prescription,
    ServiceKey,
)
from eprescription.services import pki
from eprescription.services.uow import UnitOfWork
from eprescription.signing import keywrap
from eprescription.signing.keyring import Keyring

OBJECT_TYPE = "key_material"
BATCH_SIZE = 500


class Material(StrEnum):
    """What is kept under a key-encryption key, by the name the CLI prints."""

    CA_KEYS = "ca_keys"
    SERVICE_KEYS = "service_keys"
    PRESCRIBER_KEYS = "prescriber_keys"
    ACCESS_CODES = "access_codes"


# The table of each wrapped kind of key, and the prefix of its blobs' purpose.
_Wrapped = type[CertificateAuthority] | type[ServiceKey] | type[PrescriberCredential]
_WRAPPED: dict[Material, tuple[_Wrapped, str]] = {
    Material.CA_KEYS: (CertificateAuthority, "ca"),
    Material.SERVICE_KEYS: (ServiceKey, "service"),
    Material.PRESCRIBER_KEYS: (PrescriberCredential, "prescriber"),
}


@dataclass(frozen=True)
class Batch:
    """One rewrap batch of one kind of material: how many rows moved to the current key, how
    many must wait (a legacy prescriber key needs its PIN: it moves at the next signature; an
    access code its old key no longer opens), and the last row looked at (None: no more)."""

    moved: int
    waiting: int
    last_id: int | None


def rotate_service_key(uow: UnitOfWork) -> ServiceKey:
    """A new service signing key and certificate under the active CA: receipts, reversals,
    pickup choices and signed tree heads are signed with it from now on, and what older keys
    signed still verifies by its own x5c (their certificates stay in the trust list)."""
    row = pki.new_service_key(uow)
    uow.audit("rotate_service_key", "service_key", row.serial)
    return row


def service_keys(uow: UnitOfWork) -> list[ServiceKey]:
    """Every service key, oldest first (the newest usable one signs)."""
    return list(uow.session.scalars(select(ServiceKey).order_by(ServiceKey.id)))


def holdings(uow: UnitOfWork) -> dict[Material, dict[str, int]]:
    """How many of each kind of material each key-encryption key id holds."""
    counts: dict[Material, dict[str, int]] = {}
    for material, column in _key_columns().items():
        rows = uow.session.execute(select(column, func.count()).group_by(column).order_by(column))
        counts[material] = {key_id: count for key_id, count in rows}
    return counts


def legacy_prescriber_keys(uow: UnitOfWork) -> int:
    """Prescriber keys still in the legacy one-layer format (moved only at their next signature,
    since that format needs the PIN to be opened)."""
    blobs = uow.session.scalars(select(PrescriberCredential.wrapped_key))
    return sum(keywrap.format_version(blob) == keywrap.LEGACY_VERSION for blob in blobs)


def rewrap(
    uow: UnitOfWork, material: Material, after_id: int = 0, limit: int = BATCH_SIZE
) -> Batch:
    """Move up to `limit` rows of `material` (ids above `after_id`) that are under an older
    key-encryption key to the current one, in this unit of work; audited as one event.

    Rows already moved are not selected again, so a rewrap that stopped half way resumes where
    it stopped; the caller goes on from `last_id` until it is None."""
    keys = uow.settings.keyring
    if material is Material.ACCESS_CODES:
        batch = _rewrap_access_codes(uow, keys, after_id, limit)
    else:
        batch = _rewrap_keys(uow, keys, material, after_id, limit)
    if batch.moved or batch.waiting:
        what = f"{material}: {batch.moved} moved to {keys.current_id}, {batch.waiting} waiting"
        uow.audit("rewrap", OBJECT_TYPE, what[:64])
    return batch


def _key_columns():
    return {
        Material.CA_KEYS: CertificateAuthority.wrapping_key_id,
        Material.SERVICE_KEYS: ServiceKey.wrapping_key_id,
        Material.PRESCRIBER_KEYS: PrescriberCredential.wrapping_key_id,
        Material.ACCESS_CODES: Prescription.access_code_key_id,
    }


def _rewrap_keys(
    uow: UnitOfWork, keys: Keyring, material: Material, after_id: int, limit: int
) -> Batch:
    model, prefix = _WRAPPED[material]
    # Rows, not columns: the few key rows go through the ORM, so the per-process copies of the
    # service key and trust list are dropped at commit (services/trust_cache.py).
    rows = cast(
        list[CertificateAuthority | ServiceKey | PrescriberCredential],
        uow.session.scalars(
            select(model)
            .where(model.wrapping_key_id != keys.current_id, model.id > after_id)
            .order_by(model.id)
            .limit(limit)
            .with_for_update()
        ).all(),
    )
    moved = waiting = 0
    for row in rows:
        old = pki.server_secret(keys, row.wrapping_key_id, f"The {prefix} key {row.serial}")
        try:
            row.wrapped_key = keywrap.rewrap(
                row.wrapped_key,
                old_secret=old,
                new_secret=keys.current,
                purpose=f"{prefix}:{row.serial}",
            )
        except keywrap.UnwrapFailed:
            legacy = keywrap.format_version(row.wrapped_key) == keywrap.LEGACY_VERSION
            if not (legacy and material is Material.PRESCRIBER_KEYS):
                raise _refused(material, row.wrapping_key_id) from None
            waiting += 1  # the legacy format needs the PIN: moved at the next signature
            continue
        row.wrapping_key_id = keys.current_id
        moved += 1
    return Batch(moved, waiting, rows[-1].id if len(rows) == limit else None)


def _rewrap_access_codes(uow: UnitOfWork, keys: Keyring, after_id: int, limit: int) -> Batch:
    rows = uow.session.execute(
        select(
            Prescription.id,
            Prescription.number,
            Prescription.access_code_sealed,
            Prescription.access_code_key_id,
        )
        .where(Prescription.access_code_key_id != keys.current_id, Prescription.id > after_id)
        .order_by(Prescription.id)
        .limit(limit)
    ).all()
    changes = []
    for row_id, number, sealed, key_id in rows:
        old = pki.server_secret(keys, key_id, f"The access code of prescription {number}")
        try:
            code = codes.open_access_code(sealed, number, old)
        except InvalidTag:
            raise _refused(Material.ACCESS_CODES, key_id) from None
        changes.append(
            {
                "id": row_id,
                "access_code_sealed": codes.seal_access_code(code, number, keys.current),
                "access_code_key_id": keys.current_id,
            }
        )
    if changes:  # one executemany UPDATE by primary key (the ORM's bulk update)
        uow.session.execute(update(Prescription), changes)
    return Batch(len(changes), 0, rows[-1][0] if len(rows) == limit else None)


def _refused(material: Material, key_id: str) -> ConfigurationError:
    return ConfigurationError(
        f"KEY_ENCRYPTION_KEY {key_id} does not open some {material.replace('_', ' ')}: is "
        "it the key they were wrapped with?"
    )

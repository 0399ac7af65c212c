"""`flask keys …`: what each key holds, new keys (rotate), and old material moved (rewrap)."""

import secrets

import click
from flask import current_app
from flask.cli import with_appcontext

from eprescription.cli.operator import Refused
from eprescription.domain.errors import DomainError
from eprescription.services import audit, keys
from eprescription.signing import keyring as keyrings
from eprescription.use_cases import unit_of_work

KINDS = ("kek", "service", "secret-key")
SECRET_KEY_BYTES = 32


@click.group("keys", help="Key ids, rotation and rewrap (docs/signing.md, key management).")
def keys_group() -> None:
    pass


@keys_group.command("status", help="The keyring, the service keys, and what each key holds.")
@with_appcontext
def status() -> None:
    ring: keyrings.Keyring = current_app.config["KEY_ENCRYPTION_KEYS"]
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            held = keys.holdings(uow)
            legacy = keys.legacy_prescriber_keys(uow)
            service = [(row.serial, row.not_valid_after) for row in keys.service_keys(uow)]
    except DomainError as error:
        raise Refused(error) from error
    listed = ", ".join(
        f"{key_id} (current)" if key_id == ring.current_id else key_id for key_id in ring.keys
    )
    click.echo(f"Key-encryption keys: {listed}")
    for material, by_id in held.items():
        counts = ", ".join(f"{key_id}: {count}" for key_id, count in by_id.items()) or "none"
        click.echo(f"  {material}: {counts}")
    if legacy:
        click.echo(
            f"  prescriber keys in the legacy format (moved at their next signature): {legacy}"
        )
    fallbacks = len(current_app.config.get("SECRET_KEY_FALLBACKS") or [])
    click.echo(f"SECRET_KEY: set, with {fallbacks} older one(s) still accepted for sessions")
    click.echo("Service keys (the newest signs):")
    for serial, until in service:
        click.echo(f"  {serial}, valid until {until:%Y-%m-%d}")


@keys_group.command(
    "rotate",
    help="A new key: 'service' makes a new service signing key now; 'kek' and 'secret-key' "
    "print new material and the settings to change (they live in the environment).",
)
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--id", "key_id", help="The id of the new key-encryption key (default: the next kN).")
@with_appcontext
def rotate(kind: str, key_id: str | None) -> None:
    if kind == "service":
        _rotate_service_key()
    elif kind == "kek":
        _rotate_key_encryption_key(key_id)
    else:
        _rotate_secret_key()


def _rotate_service_key() -> None:
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            row = keys.rotate_service_key(uow)
    except DomainError as error:
        raise Refused(error) from error
    click.echo(
        f"New service key {row.serial}, valid until {row.not_valid_after:%Y-%m-%d}: it signs "
        "receipts and tree heads from now on; what older keys signed still verifies."
    )


def _rotate_key_encryption_key(key_id: str | None) -> None:
    ring: keyrings.Keyring = current_app.config["KEY_ENCRYPTION_KEYS"]
    key_id = key_id or ring.next_id()
    if not keyrings.is_valid_key_id(key_id) or key_id in ring.keys:
        raise click.BadParameter(f"{key_id!r} is taken or not a valid key id.", param_hint="--id")
    entries = ",".join(f"{old}:<the key {old} as set now>" for old in ring.keys)
    click.echo(
        f"A new key-encryption key {key_id} (shown here only; keep it like the others). On every "
        "host, set (in place of KEY_ENCRYPTION_KEY if that is set) and restart:\n"
        f"  KEY_ENCRYPTION_KEYS={entries},{key_id}:{keyrings.new_key().hex()}\n"
        f"  KEY_ENCRYPTION_KEY_ID={key_id}\n"
        "New material is then wrapped under it. Then run: flask --app eprescription keys rewrap\n"
        "When it reports nothing left under an older key, remove that key from the keyring."
    )


def _rotate_secret_key() -> None:
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    older = "".join(f",<fallback {index} as set now>" for index in range(1, len(fallbacks) + 1))
    click.echo(
        "A new SECRET_KEY (shown here only). On every host, set and restart:\n"
        f"  SECRET_KEY={secrets.token_hex(SECRET_KEY_BYTES)}\n"
        f"  SECRET_KEY_FALLBACKS=<the SECRET_KEY as set now>{older}\n"
        "Sessions signed with the older keys still load; remove them from SECRET_KEY_FALLBACKS "
        "once the longest session has ended (the absolute session timeout)."
    )


@keys_group.command(
    "rewrap",
    help="Move every wrapped key and sealed access code to the current key-encryption key, "
    "a batch per transaction (run it again to resume).",
)
@click.option("--batch-size", default=keys.BATCH_SIZE, show_default=True, type=click.IntRange(1))
@with_appcontext
def rewrap(batch_size: int) -> None:
    ring: keyrings.Keyring = current_app.config["KEY_ENCRYPTION_KEYS"]
    waiting_total = 0
    try:
        for material in keys.Material:
            moved = waiting = 0
            after: int | None = 0
            while after is not None:
                with unit_of_work(actor=audit.OPERATOR) as uow:
                    batch = keys.rewrap(uow, material, after, batch_size)
                moved, waiting, after = moved + batch.moved, waiting + batch.waiting, batch.last_id
            waiting_total += waiting
            note = f", {waiting} waiting for their prescriber's next signature" if waiting else ""
            click.echo(f"{material}: {moved} moved to {ring.current_id}{note}")
        with unit_of_work(actor=audit.OPERATOR) as uow:
            held = keys.holdings(uow)
    except DomainError as error:
        raise Refused(error) from error
    left = {
        key_id
        for by_id in held.values()
        for key_id, count in by_id.items()
        if count and key_id != ring.current_id
    }
    if left:
        click.echo(f"Still under {', '.join(sorted(left))}: keep it in the keyring for now.")
    else:
        older = ", ".join(ring.older_ids)
        click.echo(
            "Nothing left under another key"
            + (f": {older} can be removed from KEY_ENCRYPTION_KEYS." if older else ".")
        )
    if waiting_total:
        click.echo("Run keys status to follow the keys that wait.")

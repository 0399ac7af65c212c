"""Software clients: an administrator registers a program bound to one pharmacy or one
practice, lists, revokes and rotates its secret; and the client as a caller of the API."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import delete, select
from sqlalchemy.orm import joinedload

from eprescription.domain import identifiers
from eprescription.domain.errors import (
    ClientAuthenticationFailed,
    ClientRevoked,
    InvalidIdentifier,
    SoftwareClientNotFound,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.models import ApiToken, Pharmacy, Practice, SoftwareClient
from eprescription.services.uow import UnitOfWork

ISSUE, READ, DISPENSE, EVENTS = "issue", "read", "dispense", "events"
SCOPES = (ISSUE, READ, DISPENSE, EVENTS)
# What software of each kind of organisation may be given: a pharmacy's does not prescribe,
# a practice's does not dispense.
PHARMACY_SCOPES = frozenset({READ, DISPENSE, EVENTS})
PRACTICE_SCOPES = frozenset({ISSUE, READ, EVENTS})
RSA_MIN_BITS = 2048
FIELD_LENGTHS = {"name": 128, "vendor": 128, "version": 64}
OBJECT = "software_client"


@dataclass(frozen=True)
class SoftwareCaller:
    """The software client behind a bearer token: who it is, its organisation, its scopes."""

    id: int
    client_id: str
    name: str
    vendor: str
    version: str
    pharmacy_id: int | None
    practice_id: int | None
    organisation: str
    scopes: frozenset[str]

    @property
    def label(self) -> str:
        """How audit events name it."""
        return f"{self.name} {self.version} ({self.client_id})"[:160]


# What a caller copies from its client's row as it is.
CALLER_COLUMNS = ("id", "client_id", "name", "vendor", "version", "pharmacy_id", "practice_id")


@dataclass(frozen=True)
class Registered:
    """A client just registered or given a new secret: the secret is shown this once."""

    client: SoftwareClient
    secret: str | None


def caller(client: SoftwareClient, scopes: frozenset[str]) -> SoftwareCaller:
    """The caller a client's token with `scopes` stands for (its pharmacy or practice loaded
    with it)."""
    copied = {name: getattr(client, name) for name in CALLER_COLUMNS}
    return SoftwareCaller(**copied, organisation=organisation(client), scopes=scopes)


def organisation(client: SoftwareClient) -> str:
    """The pharmacy or practice of a client, as audit events name organisations."""
    if client.pharmacy is not None:
        return f"{client.pharmacy.name} (FINESS {client.pharmacy.finess})"
    if client.practice is not None:
        return f"{client.practice.name} (practice {client.practice.id})"
    return ""


def secret_hash(secret: str) -> str:
    """What is stored of a client secret: SHA-256 (it has 256 random bits, unlike a password)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def register(
    uow: UnitOfWork,
    *,
    name: str,
    vendor: str,
    version: str,
    scopes: list[str],
    pharmacy_finess: str | None = None,
    practice_id: int | None = None,
    public_key_pem: str | None = None,
    is_demo: bool = False,
) -> Registered:
    """Register a program for one pharmacy (by FINESS) or one practice, with its scopes; it
    authenticates with the public key given (private_key_jwt), else with a new secret."""
    errors: dict[str, list[str]] = {}
    values = {"name": name, "vendor": vendor, "version": version}
    for field, value in values.items():
        value = (value or "").strip()
        values[field] = value
        if not value or len(value) > FIELD_LENGTHS[field]:
            errors.setdefault(field, []).append(
                Message("between_characters", "1 to {count} characters", count=FIELD_LENGTHS[field])
            )
    pharmacy, practice = _organisation(uow, pharmacy_finess, practice_id, errors)
    allowed = PHARMACY_SCOPES if pharmacy is not None else PRACTICE_SCOPES
    wanted = sorted(set(scopes))
    if not wanted or not set(wanted) <= allowed:
        errors.setdefault("scopes", []).append(
            Message(
                "one_or_more_of", "one or more of {choices}", choices=", ".join(sorted(allowed))
            )
        )
    key_problem = _public_key_problem(public_key_pem) if public_key_pem is not None else None
    if key_problem is not None:
        errors.setdefault("public_key", []).append(key_problem)
    if errors:
        raise ValidationFailed(
            Message(
                "fields_not_valid",
                "Some fields are not valid: {fields}",
                fields=", ".join(sorted(errors)),
            ),
            errors=errors,
        )
    secret = None if public_key_pem else secrets.token_urlsafe(32)
    client = SoftwareClient(
        client_id="sw_" + secrets.token_hex(12),
        pharmacy=pharmacy,
        practice=practice,
        scopes=" ".join(wanted),
        secret_hash=secret_hash(secret) if secret else None,
        public_key_pem=public_key_pem.strip() + "\n" if public_key_pem else None,
        is_demo=is_demo,
        **values,
    )
    uow.session.add(client)
    uow.session.flush()
    uow.audit("software_registered", OBJECT, client.client_id)
    return Registered(client, secret)


def _organisation(
    uow: UnitOfWork, finess: str | None, practice_id: int | None, errors: dict
) -> tuple[Pharmacy | None, Practice | None]:
    if (finess is None) == (practice_id is None):
        errors.setdefault("organisation", []).append(
            Message("pharmacy_or_practice", "one pharmacy (FINESS) or one practice, not both")
        )
        return None, None
    if finess is not None:
        try:
            compact = identifiers.validate_finess(finess)
        except InvalidIdentifier as error:
            errors.setdefault("pharmacy_finess", []).append(error.detail)
            return None, None
        pharmacy = uow.session.scalar(select(Pharmacy).where(Pharmacy.finess == compact))
        if pharmacy is None:
            errors.setdefault("pharmacy_finess", []).append(
                Message(
                    "no_such_pharmacy", "no pharmacy has the FINESS number {finess}", finess=compact
                )
            )
        return pharmacy, None
    practice = uow.session.get(Practice, practice_id)
    if practice is None:
        errors.setdefault("practice_id", []).append(
            Message("no_such_practice", "no practice has the id {id}", id=practice_id)
        )
    return None, practice


def _public_key_problem(pem: str) -> Message | None:
    """Why a PEM cannot be a client's key (a P-256 key for ES256, RSA ≥ 2048 bits for PS256)."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError):
        return Message("public_key_unreadable", "not a PEM public key")
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= RSA_MIN_BITS:
        return None
    return Message(
        "public_key_kind",
        "a P-256 key (ES256) or an RSA key of {bits} bits (PS256)",
        bits=RSA_MIN_BITS,
    )


def all_clients(uow: UnitOfWork) -> list[SoftwareClient]:
    """Every registered client, oldest first, with its organisation."""
    return list(
        uow.session.scalars(
            select(SoftwareClient)
            .options(joinedload(SoftwareClient.pharmacy), joinedload(SoftwareClient.practice))
            .order_by(SoftwareClient.id)
        )
    )


def client_named(uow: UnitOfWork, client_id: str) -> SoftwareClient:
    """The client with this client_id (revoked or not), or SoftwareClientNotFound."""
    client = uow.session.scalar(
        select(SoftwareClient)
        .where(SoftwareClient.client_id == (client_id or "")[:64])
        .options(joinedload(SoftwareClient.pharmacy), joinedload(SoftwareClient.practice))
    )
    if client is None:
        raise SoftwareClientNotFound()
    return client


def revoke(uow: UnitOfWork, client_id: str) -> SoftwareClient:
    """Revoke a client for good: it can get no token, and every token it holds ends now."""
    client = client_named(uow, client_id)
    if client.revoked_at is None:
        client.revoked_at = uow.now
    uow.session.execute(delete(ApiToken).where(ApiToken.software_client_id == client.id))
    uow.audit("software_revoked", OBJECT, client.client_id)
    return client


def rotate_secret(uow: UnitOfWork, client_id: str) -> Registered:
    """A new secret for a client that uses one (the old one stops working; tokens go on until
    they expire)."""
    client = client_named(uow, client_id)
    if client.revoked_at is not None:
        raise ClientRevoked()
    if client.public_key_pem is not None:
        raise ValidationFailed(
            Message("client_uses_key", "This client authenticates with its key, not a secret.")
        )
    secret = secrets.token_urlsafe(32)
    client.secret_hash = secret_hash(secret)
    uow.audit("software_secret_rotated", OBJECT, client.client_id)
    return Registered(client, secret)


def active_client(uow: UnitOfWork, client_id: str) -> SoftwareClient:
    """The client authenticating, refused (invalid_client) if unknown or revoked."""
    try:
        client = client_named(uow, client_id)
    except SoftwareClientNotFound as error:
        raise ClientAuthenticationFailed() from error
    if client.revoked_at is not None:
        raise ClientRevoked()
    return client


def authenticate_with_secret(uow: UnitOfWork, client_id: str, secret: str) -> SoftwareClient:
    """client_secret_basic / client_secret_post: the client, if the secret is its own."""
    client = active_client(uow, client_id)
    expected = client.secret_hash or ""
    if not hmac.compare_digest(expected, secret_hash(secret or "")) or not expected:
        raise ClientAuthenticationFailed()
    return client

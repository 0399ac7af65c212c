"""The prescriber PKI: the CA, enrolment, signing with a PIN (three tries), changing the PIN,
unblock, revoke."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from eprescription.domain.errors import (
    AlreadyExists,
    CertificateAuthorityMissing,
    CertificateExpired,
    CertificateRevoked,
    ConfigurationError,
    NoSigningCredential,
    NotFound,
    PermissionDenied,
    SigningKeyBlocked,
    ValidationFailed,
    WrongPin,
)
from eprescription.domain.messages import Message
from eprescription.models import (
    Account,
    CertificateAuthority,
    Prescriber,
    PrescriberCredential,
    Role,
    ServiceKey,
)
from eprescription.services import trust_cache
from eprescription.services.uow import UnitOfWork
from eprescription.signing import certificates, jws, keywrap
from eprescription.signing.certificates import CertificateRefused, PrescriberIdentity
from eprescription.signing.keyring import Keyring, UnknownKeyId

DEVELOPMENT_CA_NAME = "eprescription development CA"
SERVICE_NAME = "eprescription service"
MAX_PIN_ATTEMPTS = 3
REASON_MAX_LENGTH = 256
PIN_RULE = Message("pin_rule", "the PIN is 4 to 8 digits")


@dataclass(frozen=True)
class PublishedCertificate:
    kind: str  # "ca", "prescriber" or "service"
    subject: str
    serial: str
    not_valid_before: datetime
    not_valid_after: datetime
    pem: str
    rpps: str | None = None
    status: str = "valid"  # valid, revoked, expired; "active"/"inactive" for a CA


@dataclass(frozen=True)
class PublishedRevocation:
    serial: str
    revoked_at: datetime
    reason: str
    key_compromise: bool


@dataclass(frozen=True)
class TrustList:
    authorities: list[PublishedCertificate]
    certificates: list[PublishedCertificate]
    revocations: list[PublishedRevocation]


@lru_cache(maxsize=4096)
def _certificate(pem: str) -> x509.Certificate:
    """Certificates are immutable, so parsing each PEM once per process is enough."""
    return certificates.from_pem(pem)


def certificate_of(pem: str) -> x509.Certificate:
    """A stored certificate (PEM), parsed once per process."""
    return _certificate(pem)


# The certificate authority


def active_authority(uow: UnitOfWork, *, lock: bool = False) -> CertificateAuthority | None:
    """The CA that issues now; with `lock`, its row locked (parallel makers of a service key
    take turns)."""
    statement = (
        select(CertificateAuthority)
        .where(CertificateAuthority.is_active.is_(True))
        .order_by(CertificateAuthority.id.desc())
        .limit(1)
    )
    return uow.session.scalar(statement.with_for_update() if lock else statement)


def init_ca(
    uow: UnitOfWork,
    *,
    common_name: str = DEVELOPMENT_CA_NAME,
    import_cert_pem: bytes | None = None,
    import_key_pem: bytes | None = None,
    production: bool = False,
) -> CertificateAuthority:
    """Create the development CA, or import an external CA (certificate and private key).

    A development CA is refused in production: there, only an imported CA may issue. A CA
    already active is kept (refused with AlreadyExists), since replacing it would orphan
    every prescriber certificate.
    """
    now = uow.now
    if (import_cert_pem is None) != (import_key_pem is None):
        raise ValidationFailed(
            "Importing a CA needs both its certificate and its private key.",
            errors={"ca_key" if import_key_pem is None else "ca_cert": ["missing"]},
        )
    if import_cert_pem is None and production:
        raise PermissionDenied(
            "A development CA cannot be created in production: import the external CA "
            "(pki init --ca-cert FILE --ca-key FILE)."
        )
    if active_authority(uow) is not None:
        raise AlreadyExists("A certificate authority is already set up.")
    key: PrivateKeyTypes
    try:
        if import_cert_pem is None or import_key_pem is None:  # both None (checked above)
            certificate, key = certificates.create_ca(common_name, now)
        else:
            certificate = certificates.certificate_from_pem(import_cert_pem)
            key = certificates.private_key_from_pem(import_key_pem)
            certificates.check_ca(certificate, key, now)
    except CertificateRefused as error:
        raise ValidationFailed(f"The CA was refused: {error}") from error
    serial = certificates.serial_hex(certificate)
    authority = CertificateAuthority(
        common_name=certificates.common_name_of(certificate),
        serial=serial,
        certificate_pem=certificates.to_pem(certificate),
        not_valid_before=certificate.not_valid_before_utc,
        not_valid_after=certificate.not_valid_after_utc,
        wrapped_key=keywrap.wrap_private_key(
            key, server_secret=uow.settings.keyring.current, purpose=f"ca:{serial}"
        ),
        wrapping_key_id=uow.settings.keyring.current_id,
        is_external=import_cert_pem is not None,
        is_active=True,
    )
    uow.session.add(authority)
    uow.session.flush()
    return authority


def _authority_key(authority: CertificateAuthority, keys: Keyring):
    try:
        return keywrap.unwrap_private_key(
            authority.wrapped_key,
            server_secret=server_secret(keys, authority.wrapping_key_id, "the CA's key"),
            purpose=f"ca:{authority.serial}",
        )
    except keywrap.UnwrapFailed as error:
        raise ConfigurationError(
            f"KEY_ENCRYPTION_KEY {authority.wrapping_key_id} does not open the CA's key: is "
            "it the key it was created with?"
        ) from error


def server_secret(keys: Keyring, key_id: str, what: str) -> bytes:
    """The key-encryption key `key_id` that wraps `what`, or ConfigurationError saying it is
    missing from KEY_ENCRYPTION_KEYS (removed before `flask keys rewrap` moved everything)."""
    try:
        return keys.key(key_id)
    except UnknownKeyId as error:
        raise ConfigurationError(
            f"{what} is wrapped under the key-encryption key {key_id}, which is not in "
            "KEY_ENCRYPTION_KEYS: put it back, then run flask keys rewrap."
        ) from error


# Prescriber credentials


def prescriber_for_username(uow: UnitOfWork, username: str) -> Prescriber:
    """The prescriber behind a prescriber account, or NotFound."""
    prescriber = uow.session.scalar(
        select(Prescriber)
        .join(Account, Account.person_id == Prescriber.person_id)
        .where(Account.username == (username or "").strip().lower())
        .where(Account.role == Role.PRESCRIBER)
    )
    if prescriber is None:
        raise NotFound(f"No prescriber account {username!r}.")
    return prescriber


def current_credential(uow: UnitOfWork, prescriber: Prescriber) -> PrescriberCredential | None:
    """The prescriber's newest credential (the one that signs), revoked or not."""
    return uow.session.scalar(_newest_credential(prescriber))


def _newest_credential(prescriber: Prescriber):
    return (
        select(PrescriberCredential)
        .options(joinedload(PrescriberCredential.authority, innerjoin=True))
        .where(PrescriberCredential.prescriber_id == prescriber.id)
        .order_by(PrescriberCredential.id.desc())
        .limit(1)
    )


def enroll_prescriber(uow: UnitOfWork, prescriber: Prescriber, pin: str) -> PrescriberCredential:
    """Give `prescriber` a new key pair and a certificate from the active CA; the key is kept
    only wrapped under (KEY_ENCRYPTION_KEY, PIN). Refused while a usable credential exists."""
    now = uow.now
    _check_new_pin(pin, "pin")
    authority = active_authority(uow)
    if authority is None:
        raise CertificateAuthorityMissing()
    current = current_credential(uow, prescriber)
    if current is not None and current.revoked_at is None and current.not_valid_after > now:
        raise AlreadyExists(
            "This prescriber already has a signing key; revoke it first (flask pki revoke)."
        )
    person = prescriber.person
    identity = PrescriberIdentity(
        person.given_name, person.family_name, prescriber.rpps, person.country
    )
    issued = _certified_key(
        uow, authority, certificates.issue_prescriber_certificate, identity, "prescriber", pin
    )
    credential = PrescriberCredential(
        prescriber_id=prescriber.id, authority_id=authority.id, failed_pin_attempts=0, **issued
    )
    uow.session.add(credential)
    uow.session.flush()
    return credential


def sign_as_prescriber(uow: UnitOfWork, prescriber: Prescriber, pin: str, payload: bytes) -> str:
    """The compact JWS of `payload` signed with the prescriber's key, opened with `pin`
    (`open_signing_key`: a wrong PIN raises WrongPin, or SigningKeyBlocked at the third in a
    row). Revoked, expired or blocked credentials refuse to sign."""
    credential, key = open_signing_key(uow, prescriber, pin)
    keys = uow.settings.keyring
    if (
        credential.wrapping_key_id != keys.current_id
        or keywrap.format_version(credential.wrapped_key) != keywrap.FORMAT_VERSION
    ):
        # The one moment the PIN is at hand: a key under an older key-encryption key, or in
        # the legacy one-layer format that `flask keys rewrap` cannot move without it.
        _wrap_under_pin(uow, credential, key, pin)
    chain = [
        _certificate(credential.certificate_pem),
        _certificate(credential.authority.certificate_pem),
    ]
    return jws.sign_compact(payload, key, chain)


def change_pin(uow: UnitOfWork, prescriber: Prescriber, pin: str, new_pin: str) -> None:
    """The prescriber's key, opened with their current `pin` (a wrong one counted toward the
    block, as a signature's), wrapped again under `new_pin` (enrolment's rule: 4 to 8 digits)."""
    _check_new_pin(new_pin, "new_pin")
    credential, key = open_signing_key(uow, prescriber, pin)
    _wrap_under_pin(uow, credential, key, new_pin)


def _check_new_pin(pin: str, field: str) -> None:
    """A PIN chosen at enrolment or in a change: 4 to 8 digits, or ValidationFailed on `field`."""
    if not keywrap.is_valid_pin(pin):
        raise ValidationFailed(f"Not a valid PIN: {PIN_RULE}.", errors={field: [PIN_RULE]})


def _wrap_under_pin(
    uow: UnitOfWork, credential: PrescriberCredential, key: ec.EllipticCurvePrivateKey, pin: str
) -> None:
    """Keep the credential's key wrapped under the current key-encryption key and `pin`."""
    keys = uow.settings.keyring
    credential.wrapped_key = keywrap.wrap_private_key(
        key, server_secret=keys.current, pin=pin, purpose=f"prescriber:{credential.serial}"
    )
    credential.wrapping_key_id = keys.current_id


def open_signing_key(
    uow: UnitOfWork, prescriber: Prescriber, pin: str
) -> tuple[PrescriberCredential, ec.EllipticCurvePrivateKey]:
    """The prescriber's credential and private key, opened with `pin`.

    The credential's row stays locked until the use case's transaction ends, so one
    prescriber's signatures (and any parallel PIN guesses) are taken one after another: a
    wrong PIN raises WrongPin, or SigningKeyBlocked at the third in a row, and is counted by
    the unit of work after it rolls back (the caller audits the refusal); a correct PIN
    resets the counter in the use case's transaction. Revoked, expired or blocked
    credentials refuse to open.
    """
    now = uow.now
    # The newest credential with its CA, read under the lock (one statement): what wrong PINs
    # sent in parallel did is seen here.
    credential = uow.session.scalar(
        _newest_credential(prescriber)
        .with_for_update(of=PrescriberCredential)
        .execution_options(populate_existing=True)
    )
    refusal = signing_refusal(credential, now)
    if refusal is not None:
        raise refusal
    assert credential is not None  # signing_refusal says so
    secret = server_secret(
        uow.settings.keyring, credential.wrapping_key_id, "This prescriber's signing key"
    )
    try:
        if not keywrap.is_valid_pin(pin):
            raise keywrap.UnwrapFailed(PIN_RULE)
        key = keywrap.unwrap_private_key(
            credential.wrapped_key,
            server_secret=secret,
            pin=pin,
            purpose=f"prescriber:{credential.serial}",
        )
    except keywrap.ServerSecretRefused as error:  # not the PIN's fault: nothing is counted
        raise ConfigurationError(
            f"KEY_ENCRYPTION_KEY {credential.wrapping_key_id} does not open this "
            "prescriber's signing key: is it the key it was wrapped with?"
        ) from error
    except keywrap.UnwrapFailed as error:
        _count_wrong_pin(uow, credential.id, now)
        left = MAX_PIN_ATTEMPTS - (credential.failed_pin_attempts + 1)
        if left <= 0:
            raise SigningKeyBlocked(_blocked_detail()) from error
        message = (
            Message("wrong_pin_last_try", "wrong PIN: 1 try left before it is blocked")
            if left == 1
            else Message(
                "wrong_pin", "wrong PIN: {left} tries left before it is blocked", left=left
            )
        )
        raise WrongPin(f"Wrong signing PIN; {message}.", errors={"pin": [message]}) from error
    if credential.failed_pin_attempts:
        credential.failed_pin_attempts = 0
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError("The prescriber's signing key is not an EC private key.")
    return credential, key


def signing_refusal(
    credential: PrescriberCredential | None, now: datetime
) -> NoSigningCredential | CertificateRevoked | CertificateExpired | SigningKeyBlocked | None:
    """Why this credential cannot sign now (None: it can, given the right PIN); also told to
    the prescriber before they fill a form."""
    if credential is None:
        return NoSigningCredential(
            Message("no_signing_key", "This prescriber has no signing key: ask an administrator.")
        )
    if credential.revoked_at is not None:
        return CertificateRevoked(
            Message(
                "certificate_revoked_on",
                "The signing certificate was revoked on {day}.",
                day=credential.revoked_at.date(),
            )
        )
    if not credential.is_valid_at(now):
        return CertificateExpired(
            Message(
                "certificate_validity",
                "The signing certificate is valid from {start} to {end}.",
                start=credential.not_valid_before.date(),
                end=credential.not_valid_after.date(),
            )
        )
    if credential.blocked_at is not None:
        return SigningKeyBlocked(_blocked_detail())
    return None


def _blocked_detail() -> Message:
    return Message(
        "signing_key_blocked",
        "{attempts} wrong PINs in a row: the signing key is blocked until an administrator "
        "unblocks it (flask pki unblock).",
        attempts=MAX_PIN_ATTEMPTS,
    )


def _count_wrong_pin(uow: UnitOfWork, credential_id: int, now: datetime) -> None:
    """Count a wrong PIN (blocking the key at the third in a row): kept by the unit of work
    though the use case rolls back, with no event of its own (the caller audits the refusal)."""

    def count(session: Session) -> None:
        credential = session.get_one(
            PrescriberCredential, credential_id, with_for_update=True, populate_existing=True
        )
        credential.failed_pin_attempts += 1
        if credential.failed_pin_attempts >= MAX_PIN_ATTEMPTS:
            credential.blocked_at = now

    # Kept through the rollback of the failed signature; no event of its own (the caller's
    # refusal of the use case is the audited one).
    uow.keep(count)


def _credential_or_refuse(uow: UnitOfWork, prescriber: Prescriber) -> PrescriberCredential:
    credential = current_credential(uow, prescriber)
    if credential is None:
        raise NoSigningCredential("This prescriber has no signing key.")
    return credential


def unblock(uow: UnitOfWork, prescriber: Prescriber) -> PrescriberCredential:
    """Reset the wrong-PIN counter and lift the block (an administrator's act)."""
    credential = _credential_or_refuse(uow, prescriber)
    credential.failed_pin_attempts = 0
    credential.blocked_at = None
    return credential


def revoke(
    uow: UnitOfWork, prescriber: Prescriber, reason: str, *, key_compromise: bool = False
) -> PrescriberCredential:
    """Revoke the prescriber's certificate: it signs no more. What it signed before stays
    valid, unless `key_compromise` (then nothing it signed is trusted)."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            "A revocation needs a reason.",
            errors={"reason": [f"1 to {REASON_MAX_LENGTH} characters"]},
        )
    credential = _credential_or_refuse(uow, prescriber)
    if credential.revoked_at is not None:
        raise AlreadyExists(f"This certificate was already revoked on {credential.revoked_at}.")
    credential.revoked_at = uow.now
    credential.revocation_reason = reason
    credential.key_compromise = key_compromise
    return credential


# What verifiers trust


def trust_anchors(uow: UnitOfWork) -> list[x509.Certificate]:
    """Every CA this service has used (old ones too, to verify what they issued)."""
    pems = uow.session.scalars(select(CertificateAuthority.certificate_pem))
    return [_certificate(pem) for pem in pems]


def revocations(uow: UnitOfWork) -> dict[str, jws.Revocation]:
    rows = uow.session.execute(
        select(
            PrescriberCredential.serial,
            PrescriberCredential.revoked_at,
            PrescriberCredential.revocation_reason,
            PrescriberCredential.key_compromise,
        ).where(PrescriberCredential.revoked_at.is_not(None))
    )
    return {
        serial: jws.Revocation(revoked_at, reason or "", bool(compromised))
        for serial, revoked_at, reason, compromised in rows
        if revoked_at is not None  # always, by the query: narrows the type
    }


def trusted_certificates(uow: UnitOfWork) -> TrustList:
    """The CA certificates, every prescriber and service certificate, and the revocations."""
    session = uow.session
    now = uow.now
    authorities = [
        PublishedCertificate(
            "ca",
            _certificate(row.certificate_pem).subject.rfc4514_string(),
            row.serial,
            row.not_valid_before,
            row.not_valid_after,
            row.certificate_pem,
            status="active" if row.is_active else "inactive",
        )
        for row in session.scalars(select(CertificateAuthority).order_by(CertificateAuthority.id))
    ]
    published = []
    for credential in session.scalars(
        select(PrescriberCredential).order_by(PrescriberCredential.id)
    ):
        certificate = _certificate(credential.certificate_pem)
        status = (
            "revoked"
            if credential.revoked_at
            else "valid"
            if credential.is_valid_at(now)
            else "expired"
        )
        published.append(
            PublishedCertificate(
                "prescriber",
                certificate.subject.rfc4514_string(),
                credential.serial,
                credential.not_valid_before,
                credential.not_valid_after,
                credential.certificate_pem,
                rpps=certificates.rpps_of(certificate),
                status=status,
            )
        )
    for row in session.scalars(select(ServiceKey).order_by(ServiceKey.id)):
        published.append(
            PublishedCertificate(
                "service",
                _certificate(row.certificate_pem).subject.rfc4514_string(),
                row.serial,
                row.not_valid_before,
                row.not_valid_after,
                row.certificate_pem,
                status="valid" if row.not_valid_after > now else "expired",
            )
        )
    revoked = [
        PublishedRevocation(
            serial, revocation.revoked_at, revocation.reason, revocation.key_compromise
        )
        for serial, revocation in revocations(uow).items()
    ]
    revoked.sort(key=lambda revocation: revocation.revoked_at)
    return TrustList(authorities, published, revoked)


# The service's own signature (issue 4: dispensation receipts)

SERVICE_KEY_RENEW_BEFORE_DAYS = 30
SERVICE_KEY = "pki.service_key"  # its name in services/trust_cache.py


@dataclass(frozen=True)
class _ServiceSigningKey:
    """What signing needs of a service key row (still wrapped), kept by trust_cache."""

    serial: str
    wrapped_key: bytes
    wrapping_key_id: str
    certificate_pem: str
    authority_certificate_pem: str
    not_valid_before: datetime
    not_valid_after: datetime

    def usable_at(self, now: datetime) -> bool:
        renew_from = self.not_valid_after - timedelta(days=SERVICE_KEY_RENEW_BEFORE_DAYS)
        return self.not_valid_before <= now < renew_from


def sign_as_service(uow: UnitOfWork, payload: bytes) -> str:
    """The compact JWS of `payload` signed with the service key (x5c: service cert, CA).

    The key is made on first use (and again when the current one nears its end), certified by
    the active CA, so `verify_document` accepts it like a prescriber's; it is kept wrapped
    under KEY_ENCRYPTION_KEY alone. Creation locks the CA row, so parallel first uses make
    one key; it joins the use case's transaction. The row is read once per process every few
    seconds (services/trust_cache.py), and again when that copy is no longer usable.
    """
    now = uow.now

    def usable() -> _ServiceSigningKey | None:
        row = _usable_service_key(uow, now)
        return None if row is None else _signing_key(row)

    key_row = trust_cache.shared(uow.session, SERVICE_KEY, usable)
    if key_row is None or not key_row.usable_at(now):
        key_row = trust_cache.shared(uow.session, SERVICE_KEY, usable, fresh=True)
    if key_row is None:
        authority = active_authority(uow, lock=True)
        if authority is None:
            raise CertificateAuthorityMissing()
        key_row = usable() or _signing_key(_new_service_key(uow, authority, now))
    try:
        key = keywrap.unwrap_private_key(
            key_row.wrapped_key,
            server_secret=server_secret(
                uow.settings.keyring, key_row.wrapping_key_id, "The service key"
            ),
            purpose=f"service:{key_row.serial}",
        )
    except keywrap.UnwrapFailed as error:
        raise ConfigurationError(
            f"KEY_ENCRYPTION_KEY {key_row.wrapping_key_id} does not open the service key: "
            "is it the key it was made with?"
        ) from error
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError("The service signing key is not an EC private key.")
    chain = [
        _certificate(key_row.certificate_pem),
        _certificate(key_row.authority_certificate_pem),
    ]
    return jws.sign_compact(payload, key, chain)


def _signing_key(row: ServiceKey) -> _ServiceSigningKey:
    return _ServiceSigningKey(
        serial=row.serial,
        wrapped_key=row.wrapped_key,
        wrapping_key_id=row.wrapping_key_id,
        certificate_pem=row.certificate_pem,
        authority_certificate_pem=row.authority.certificate_pem,
        not_valid_before=row.not_valid_before,
        not_valid_after=row.not_valid_after,
    )


def _usable_service_key(uow: UnitOfWork, now: datetime) -> ServiceKey | None:
    return uow.session.scalar(
        select(ServiceKey)
        .options(joinedload(ServiceKey.authority))
        .join(CertificateAuthority, CertificateAuthority.id == ServiceKey.authority_id)
        .where(CertificateAuthority.is_active.is_(True))
        .where(ServiceKey.not_valid_before <= now)
        .where(ServiceKey.not_valid_after > now + timedelta(days=SERVICE_KEY_RENEW_BEFORE_DAYS))
        .order_by(ServiceKey.id.desc())
        .limit(1)
    )


def new_service_key(uow: UnitOfWork) -> ServiceKey:
    """A new service key and certificate from the active CA, which signs from now on (the
    older ones stay, to verify what they signed): `flask keys rotate service`."""
    authority = active_authority(uow, lock=True)
    if authority is None:
        raise CertificateAuthorityMissing()
    return _new_service_key(uow, authority, uow.now)


def _new_service_key(uow: UnitOfWork, authority: CertificateAuthority, now: datetime) -> ServiceKey:
    issued = _certified_key(
        uow, authority, certificates.issue_service_certificate, SERVICE_NAME, "service", now=now
    )
    row = ServiceKey(authority=authority, created_at=now, **issued)
    uow.session.add(row)
    uow.session.flush()
    return row


def _certified_key(
    uow: UnitOfWork,
    authority: CertificateAuthority,
    issue: Callable[..., x509.Certificate],
    subject: object,
    purpose: str,
    pin: str | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A new key pair whose certificate `authority` issues (`issue`, for `subject`), as the
    columns its row keeps: serial, certificate, validity, and the private key wrapped under the
    current key-encryption key (and `pin`), bound to "`purpose`:serial"."""
    keys = uow.settings.keyring
    key = certificates.generate_key()
    certificate = issue(
        _certificate(authority.certificate_pem),
        _authority_key(authority, keys),
        key.public_key(),
        subject,
        now or uow.now,
    )
    serial = certificates.serial_hex(certificate)
    return {
        "serial": serial,
        "certificate_pem": certificates.to_pem(certificate),
        "not_valid_before": certificate.not_valid_before_utc,
        "not_valid_after": certificate.not_valid_after_utc,
        "wrapped_key": keywrap.wrap_private_key(
            key, server_secret=keys.current, pin=pin, purpose=f"{purpose}:{serial}"
        ),
        "wrapping_key_id": keys.current_id,
    }

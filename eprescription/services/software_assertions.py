"""private_key_jwt (RFC 7523 §2.2, RFC 7521): a software client proves itself with a short JWT
signed by its registered key, each jti accepted once."""

from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from eprescription.domain import bounded_json
from eprescription.domain.errors import (
    ClientAssertionInvalid,
    ClientAssertionReplayed,
    ClientAuthenticationFailed,
)
from eprescription.models import ClientAssertionUse, SoftwareClient
from eprescription.services import software_clients
from eprescription.services.uow import UnitOfWork
from eprescription.signing import jws

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("ES256", "PS256", "RS256")
MAX_LIFETIME = timedelta(minutes=5)  # exp at most this far ahead of now
LEEWAY = timedelta(seconds=30)  # clocks apart: iat and nbf may be this much ahead
JTI_MAX_LENGTH = 128
ASSERTION_MAX_LENGTH = 8192


def authenticate(uow: UnitOfWork, assertion: str, audience: str) -> SoftwareClient:
    """The client whose registered key signed `assertion` for `audience` (the token endpoint's
    URL), with iss = sub = its client_id, exp within five minutes and a jti not seen before;
    the jti is kept until the assertion expires."""
    header, claims, signing_input, signature = _parse(assertion)
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or claims.get("sub") != issuer:
        raise ClientAssertionInvalid("iss and sub must both be the client_id")
    client = software_clients.active_client(uow, issuer)
    if client.public_key_pem is None:
        raise ClientAuthenticationFailed("This client authenticates with a secret.")
    _check_signature(client.public_key_pem, header["alg"], signing_input, signature)
    expires_at = _check_claims(uow.now, claims, audience)
    _use_once(uow, client, claims["jti"], expires_at)
    return client


def _parse(assertion: str) -> tuple[dict, dict, bytes, bytes]:
    if not isinstance(assertion, str) or len(assertion) > ASSERTION_MAX_LENGTH:
        raise ClientAssertionInvalid("the assertion is not a compact JWT")
    parts = assertion.strip().split(".")
    if len(parts) != 3 or not assertion.isascii():
        raise ClientAssertionInvalid("the assertion is not a compact JWT")
    try:
        header_bytes, claims_bytes, signature = (jws.b64url_decode(part) for part in parts)
        header, claims = bounded_json.loads(header_bytes), bounded_json.loads(claims_bytes)
    except ValueError as error:  # MalformedJws, and JSON that is not
        raise ClientAssertionInvalid("the assertion is not a compact JWT") from error
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ClientAssertionInvalid("the assertion's header and claims must be JSON objects")
    if header.get("alg") not in ALGORITHMS or "crit" in header:
        raise ClientAssertionInvalid(f"alg must be one of {', '.join(ALGORITHMS)}")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _check_signature(pem: str, alg: str, signing_input: bytes, signature: bytes) -> None:
    key = serialization.load_pem_public_key(pem.encode())
    try:
        if alg == "ES256":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ClientAssertionInvalid("ES256 needs the client's P-256 key")
            key.verify(jws.raw_to_der(signature), signing_input, ec.ECDSA(hashes.SHA256()))
            return
        if not isinstance(key, rsa.RSAPublicKey):
            raise ClientAssertionInvalid(f"{alg} needs the client's RSA key")
        scheme = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            if alg == "PS256"
            else padding.PKCS1v15()
        )
        key.verify(signature, signing_input, scheme, hashes.SHA256())
    except (InvalidSignature, jws.MalformedJws) as error:
        raise ClientAssertionInvalid(
            "the signature is not the client's registered key's"
        ) from error


def _check_claims(now: datetime, claims: dict, audience: str) -> datetime:
    """The assertion's expiry, once aud, exp, nbf, iat and jti hold."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise ClientAssertionInvalid(f"aud must be the token endpoint, {audience}")
    expires_at = _time(claims, "exp", required=True)
    if expires_at is None or expires_at <= now:
        raise ClientAssertionInvalid("the assertion has expired (exp)")
    if expires_at > now + MAX_LIFETIME + LEEWAY:
        raise ClientAssertionInvalid("exp may be at most five minutes ahead")
    for name in ("nbf", "iat"):
        moment = _time(claims, name, required=False)
        if moment is not None and moment > now + LEEWAY:
            raise ClientAssertionInvalid(f"{name} is in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= JTI_MAX_LENGTH:
        raise ClientAssertionInvalid(f"jti must be a text of 1 to {JTI_MAX_LENGTH} characters")
    return expires_at


def _time(claims: dict, name: str, *, required: bool) -> datetime | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 2**40:
        raise ClientAssertionInvalid(f"{name} must be a NumericDate (seconds since 1970)")
    return datetime.fromtimestamp(value, UTC)


def _use_once(uow: UnitOfWork, client: SoftwareClient, jti: str, expires_at: datetime) -> None:
    """Keep the jti until its assertion expires; refused if it is kept already (the unique
    index decides, so two requests at once cannot both use it). It stays kept even when the
    token request fails later (a wrong password): an assertion is spent once shown."""
    session, client_id = uow.session, client.id

    def keep_spent(session: Session) -> None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        row = {"software_client_id": client_id, "jti": jti, "expires_at": expires_at}
        session.execute(dialect.insert(ClientAssertionUse).values(row).on_conflict_do_nothing())

    session.execute(
        delete(ClientAssertionUse).where(
            ClientAssertionUse.software_client_id == client_id,
            ClientAssertionUse.expires_at <= uow.now,
        )
    )
    try:
        with uow.savepoint():
            session.add(
                ClientAssertionUse(software_client_id=client_id, jti=jti, expires_at=expires_at)
            )
            session.flush()
    except IntegrityError as error:
        raise ClientAssertionReplayed() from error
    uow.keep(keep_spent)

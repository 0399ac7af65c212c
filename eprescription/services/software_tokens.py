"""OAuth 2.0 tokens of software clients (RFC 6749): for the software alone
(client_credentials) or for a professional of its pharmacy or practice (password), limited
to scopes; and their revocation (RFC 7009)."""

from dataclasses import dataclass

from sqlalchemy import delete

from eprescription.domain.errors import (
    AuthenticationFailed,
    ClientAssertionInvalid,
    ClientAuthenticationFailed,
    OAuthGrantRefused,
    OAuthGrantTypeUnsupported,
    OAuthRefused,
    OAuthScopeRefused,
    ProfessionalNotOfClient,
    TooManyAttempts,
)
from eprescription.models import Account, ApiToken, Role, SoftwareClient
from eprescription.services import (
    accounts,
    audit,
    sessions,
    software_assertions,
    software_clients,
)
from eprescription.services.software_clients import DISPENSE, EVENTS, ISSUE, READ, SCOPES
from eprescription.services.uow import UnitOfWork

CLIENT_CREDENTIALS, PASSWORD = "client_credentials", "password"
GRANT_TYPES = (CLIENT_CREDENTIALS, PASSWORD)
# What each kind of caller can do at all: software alone acts for no person, so it neither
# issues nor dispenses.
SCOPES_BY_ROLE = {
    Role.PRESCRIBER: frozenset({ISSUE, READ, EVENTS}),
    Role.PHARMACIST: frozenset({DISPENSE, READ, EVENTS}),
}
SOFTWARE_ALONE_SCOPES = frozenset({READ, EVENTS})


@dataclass(frozen=True)
class ClientProof:
    """How a client says who it is: a client_id with its secret, or a client assertion."""

    client_id: str | None
    secret: str | None
    assertion_type: str | None
    assertion: str | None


def authenticate_client(uow: UnitOfWork, proof: ClientProof, audience: str) -> SoftwareClient:
    """The client proven by its secret (client_secret_basic or _post) or by a JWT its
    registered key signed for `audience` (private_key_jwt); one way only."""
    if proof.assertion is not None or proof.assertion_type is not None:
        if proof.secret is not None:
            raise OAuthRefused("Use one way of client authentication only.")
        if proof.assertion_type != software_assertions.ASSERTION_TYPE or not proof.assertion:
            raise OAuthRefused(
                f"client_assertion_type must be {software_assertions.ASSERTION_TYPE}, with a "
                "client_assertion."
            )
        client = software_assertions.authenticate(uow, proof.assertion, audience)
        if proof.client_id not in (None, client.client_id):
            raise ClientAssertionInvalid("client_id is not the assertion's issuer")
        return client
    if not proof.client_id or proof.secret is None:
        raise ClientAuthenticationFailed("No client authentication was given.")
    return software_clients.authenticate_with_secret(uow, proof.client_id, proof.secret)


@dataclass(frozen=True)
class Granted:
    """A token just issued: the token (shown once), its lifetime and its scopes."""

    access_token: str
    expires_in: int
    scope: str
    account: Account | None


def grant(
    uow: UnitOfWork,
    client: SoftwareClient,
    grant_type: str,
    *,
    scope: str | None = None,
    username: str | None = None,
    password: str | None = None,
    device: str | None = None,
) -> Granted:
    """A token for an authenticated client: `client_credentials` for the software itself,
    `password` for the professional whose username and password are given (who must work in
    the client's pharmacy or practice); scopes are those asked (all when none are) that the
    client and the caller may have, refused when none is left."""
    if grant_type not in GRANT_TYPES:
        raise OAuthGrantTypeUnsupported()
    account = None
    if grant_type == PASSWORD:
        account = _professional(uow, client, username or "", password or "", device)
        possible = SCOPES_BY_ROLE[account.role]
    else:
        possible = SOFTWARE_ALONE_SCOPES
    scopes = _scopes(client, scope, possible)
    lifetime = uow.settings.token_lifetime_seconds
    token, _expires_at = accounts.issue_software_token(
        uow, account, client.id, " ".join(scopes), lifetime
    )
    software = software_clients.caller(client, frozenset(scopes))
    uow.audit(
        "software_token",
        "software_client",
        client.client_id,
        actor=audit.actor_for(account, software),
    )
    return Granted(token, lifetime, " ".join(scopes), account)


def _scopes(client: SoftwareClient, asked: str | None, possible: frozenset[str]) -> list[str]:
    asked_scopes = set(asked.split()) if asked and asked.strip() else set(SCOPES)
    if not asked_scopes <= set(SCOPES):
        raise OAuthScopeRefused(f"Scopes are among: {' '.join(SCOPES)}.")
    given = sorted(asked_scopes & set(client.scopes.split()) & possible)
    if not given:
        raise OAuthScopeRefused()
    return given


def _professional(
    uow: UnitOfWork, client: SoftwareClient, username: str, password: str, device: str | None
) -> Account:
    try:
        account = accounts.authenticate(uow, username, password, device=device)
    except TooManyAttempts:
        raise
    except AuthenticationFailed as error:  # RFC 6749 §5.2: the grant is refused, not the client
        raise OAuthGrantRefused(error.detail) from error
    if not _works_in(account, client):
        raise ProfessionalNotOfClient()
    return account


def _works_in(account: Account, client: SoftwareClient) -> bool:
    """Whether the account is a prescriber of the client's practice or a pharmacist of its
    pharmacy."""
    person = account.person
    if person is None:
        return False
    if account.role is Role.PRESCRIBER and person.prescriber is not None:
        return (
            client.practice_id is not None and person.prescriber.practice_id == client.practice_id
        )
    if account.role is Role.PHARMACIST and person.pharmacist is not None:
        return (
            client.pharmacy_id is not None and person.pharmacist.pharmacy_id == client.pharmacy_id
        )
    return False


def revoke(uow: UnitOfWork, client: SoftwareClient, token: str) -> None:
    """RFC 7009: end `token` if it is this client's (an unknown token is no error)."""
    uow.session.execute(
        delete(ApiToken).where(
            ApiToken.token_hash == sessions.token_hash(token or ""),
            ApiToken.software_client_id == client.id,
        )
    )

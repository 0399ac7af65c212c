"""People and accounts: creating them, checking passwords, and API bearer tokens."""

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import joinedload

from eprescription.domain import identifiers, prescribing_rules
from eprescription.domain.errors import (
    AlreadyExists,
    AuthenticationFailed,
    AuthenticationRequired,
    InvalidIdentifier,
    NotFound,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.models import (
    Account,
    ApiToken,
    Person,
    Pharmacist,
    Pharmacy,
    Prescriber,
    Role,
    SoftwareClient,
)
from eprescription.services import login_throttle, sessions
from eprescription.services.uow import UnitOfWork

USERNAME_MAX_LENGTH = 64
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{2,63}")
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024  # hashing megabytes of "password" would be a cheap denial of service
NAME_MAX_LENGTH = 128
WRONG_CREDENTIALS = Message("wrong_credentials", "Wrong username or password.")
ROLES_WITH_A_PERSON = (Role.PRESCRIBER, Role.PHARMACIST, Role.PATIENT)
PASSWORD_RULE = Message("password_length", "at least {count} characters", count=PASSWORD_MIN_LENGTH)
ALREADY_RECORDED = Message("already_recorded", "already recorded")

# argon2id with the library's defaults (RFC 9106 low-memory profile); raising them later
# makes authenticate() rehash each password at its next successful login.
password_hasher = PasswordHasher()


@dataclass(frozen=True)
class PersonDetails:
    national_id: str | None
    given_name: str | None
    family_name: str | None
    birth_date: date | None


@dataclass(frozen=True)
class Profile:
    """What a page or the API shows about the logged-in account."""

    username: str
    role: Role
    name: str
    rpps: str | None = None
    specialty: str | None = None
    pharmacy_name: str | None = None
    pharmacy_finess: str | None = None


class _Problems:
    """Field → messages, collected so that one refusal reports every problem at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def identifier(self, field: str, validate, value: str | None) -> str | None:
        try:
            return validate(value)
        except InvalidIdentifier as error:
            self.add(field, error.detail)
            return None

    def raise_if_any(self, kind: type[ValidationFailed] | type[AlreadyExists], detail: str):
        if self.errors:
            self.raise_all(kind, detail)

    def raise_all(
        self, kind: type[ValidationFailed] | type[AlreadyExists], detail: str
    ) -> NoReturn:
        fields = ", ".join(sorted(self.errors))
        code = "fields_not_valid" if kind is ValidationFailed else "exist_already"
        raise kind(Message(code, detail + ": {fields}", fields=fields), errors=self.errors)


def _at_most(count: int) -> Message:
    return Message("at_most_characters", "at most {count} characters", count=count)


def normalise_username(username: str) -> str:
    """Usernames are compared without case or surrounding spaces."""
    return (username or "").strip().lower()


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def create_person(uow: UnitOfWork, *, details: PersonDetails, is_demo: bool = False) -> Person:
    """Record a person (a patient who has no account yet, for instance), in the country of
    the service."""
    problems = _Problems()
    person = _person(uow, problems, details, is_demo)
    if problems.errors or person is None:  # None only when problems were recorded
        problems.raise_all(ValidationFailed, "Some fields are not valid")
    if person.id is not None:
        raise AlreadyExists(
            "A person with this national identifier exists already.",
            errors={"national_id": [ALREADY_RECORDED]},
        )
    uow.session.flush()
    return person


def create_pharmacy(
    uow: UnitOfWork, *, finess: str, name: str, address: str = "", is_demo: bool = False
) -> Pharmacy:
    """Record a pharmacy identified by its FINESS number."""
    return add_pharmacy(uow, finess=finess, name=name, address=address, is_demo=is_demo)


def add_pharmacy(
    uow: UnitOfWork, *, finess: str, name: str, address: str = "", is_demo: bool = False
) -> Pharmacy:
    """Validate and add a pharmacy (the same as create_pharmacy)."""
    session = uow.session
    problems = _Problems()
    compact = problems.identifier("finess", identifiers.validate_finess, finess)
    name = (name or "").strip()
    if not name:
        problems.add("name", Message("pharmacy_name_missing", "the pharmacy's name is missing"))
    elif len(name) > 256:
        problems.add("name", _at_most(256))
    if len(address or "") > 512:
        problems.add("address", _at_most(512))
    problems.raise_if_any(ValidationFailed, "Some fields are not valid")
    if session.scalar(select(Pharmacy.id).where(Pharmacy.finess == compact)) is not None:
        raise AlreadyExists(
            f"A pharmacy with FINESS {compact} exists already.",
            errors={"finess": [ALREADY_RECORDED]},
        )
    pharmacy = Pharmacy(finess=compact, name=name, address=(address or "").strip(), is_demo=is_demo)
    session.add(pharmacy)
    session.flush()
    return pharmacy


def create_account(uow: UnitOfWork, **fields) -> Account:
    """Create an account with its role's records; see add_account for the fields."""
    return add_account(uow, **fields)


def add_account(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    role: Role | str,
    person: PersonDetails | None = None,
    rpps: str | None = None,
    specialty: str = "",
    setting: str = prescribing_rules.COMMUNITY,
    pharmacy_finess: str | None = None,
    is_demo: bool = False,
) -> Account:
    """Validate every field, then add an account (its person in the country of the service).

    Prescribers need an RPPS number, pharmacists the FINESS of an existing pharmacy;
    every role but admin needs a person. A person already recorded under the same
    national identifier (a doctor who is also a patient) is reused if the details agree.
    """
    session = uow.session
    problems = _Problems()
    username = normalise_username(username)
    if not USERNAME_PATTERN.fullmatch(username):
        problems.add(
            "username",
            Message("username_rule", "3 to 64 characters: letters, digits, and . _ @ -"),
        )
    if not PASSWORD_MIN_LENGTH <= len(password or "") <= PASSWORD_MAX_LENGTH:
        problems.add("password", PASSWORD_RULE)
    try:
        account_role: Role | None = Role(role)
    except ValueError:
        problems.add("role", Message("one_of", "one of {choices}", choices=", ".join(Role)))
        account_role = None
    person_record = None
    if person is not None or account_role in ROLES_WITH_A_PERSON:
        details = person or PersonDetails(None, None, None, None)
        person_record = _person(uow, problems, details, is_demo)
    if account_role is Role.PRESCRIBER:
        rpps = problems.identifier("rpps", identifiers.validate_rpps, rpps)
        if len(specialty or "") > NAME_MAX_LENGTH:
            problems.add("specialty", _at_most(NAME_MAX_LENGTH))
        if setting not in prescribing_rules.SETTINGS:
            problems.add(
                "setting",
                Message(
                    "one_of", "one of {choices}", choices=", ".join(prescribing_rules.SETTINGS)
                ),
            )
    pharmacy = None
    if account_role is Role.PHARMACIST:
        finess = problems.identifier(
            "pharmacy_finess", identifiers.validate_finess, pharmacy_finess
        )
        if finess:
            pharmacy = session.scalar(select(Pharmacy).where(Pharmacy.finess == finess))
            if pharmacy is None:
                problems.add(
                    "pharmacy_finess",
                    Message(
                        "no_such_pharmacy",
                        "no pharmacy has the FINESS number {finess}",
                        finess=finess,
                    ),
                )
    problems.raise_if_any(ValidationFailed, "Some fields are not valid")

    duplicates = _Problems()
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        duplicates.add("username", Message("username_taken", "this username is taken"))
    if (
        person_record is not None
        and person_record.id is not None
        and session.scalar(
            select(Account.id).where(
                Account.person_id == person_record.id, Account.role == account_role
            )
        )
        is not None
    ):
        duplicates.add(
            "national_id",
            Message(
                "person_has_role",
                "this person has a {role} account already",
                role=str(account_role),
            ),
        )
    if rpps and session.scalar(select(Prescriber.id).where(Prescriber.rpps == rpps)) is not None:
        duplicates.add("rpps", Message("rpps_taken", "another prescriber has this RPPS number"))
    duplicates.raise_if_any(AlreadyExists, "These exist already")

    account = Account(
        username=username,
        password_hash=hash_password(password),
        role=account_role,
        person=person_record,
        is_demo=is_demo,
    )
    session.add(account)
    if account_role is Role.PRESCRIBER:
        session.add(
            Prescriber(
                person=person_record,
                rpps=rpps,
                specialty=(specialty or "").strip(),
                setting=setting,
            )
        )
    elif account_role is Role.PHARMACIST:
        session.add(Pharmacist(person=person_record, pharmacy=pharmacy))
    session.flush()
    return account


def _person(
    uow: UnitOfWork, problems: _Problems, details: PersonDetails, is_demo: bool
) -> Person | None:
    """The person these details name: the recorded one if any, else a new one (not added yet)."""
    country = uow.settings.country
    national_id = problems.identifier(
        "national_id",
        lambda value: identifiers.validate_national_id(value, country),
        details.national_id,
    )
    names = {}
    for field in ("given_name", "family_name"):
        value = (getattr(details, field) or "").strip()
        if not value:
            problems.add(field, Message("name_missing", "this name is missing"))
        elif len(value) > NAME_MAX_LENGTH:
            problems.add(field, _at_most(NAME_MAX_LENGTH))
        names[field] = value
    birth_date = details.birth_date
    if birth_date is None:
        problems.add("birth_date", Message("birth_date_missing", "the birth date is missing"))
    elif birth_date > date.today():
        problems.add("birth_date", Message("birth_date_future", "the birth date is in the future"))
    elif national_id and not _agrees(national_id, country, birth_date):
        problems.add(
            "birth_date",
            Message(
                "birth_date_disagrees",
                "the birth date does not agree with the national identifier",
            ),
        )
    if problems.errors:
        return None
    existing = uow.session.scalar(select(Person).where(Person.national_id == national_id))
    if existing is None:
        person = Person(
            national_id=national_id,
            country=country,
            birth_date=birth_date,
            is_demo=is_demo,
            **names,
        )
        uow.session.add(person)
        return person
    same_names = all(
        getattr(existing, field).casefold() == value.casefold() for field, value in names.items()
    )
    if not same_names or existing.birth_date != birth_date:
        problems.add(
            "national_id",
            Message(
                "person_differs", "recorded already for a person with another name or birth date"
            ),
        )
    return existing


def _agrees(national_id: str, country: str, birth_date: date) -> bool:
    if country == identifiers.ESTONIA:
        return identifiers.isikukood_birth_date(national_id) == birth_date
    return identifiers.nir_agrees_with_birth_date(national_id, birth_date)


def _account_named(uow: UnitOfWork, username: str) -> Account:
    account = uow.session.scalar(
        select(Account).where(Account.username == normalise_username(username))
    )
    if account is None:
        raise NotFound(f"No account is named {normalise_username(username)!r}.")
    return account


def set_active(uow: UnitOfWork, username: str, active: bool) -> Account:
    """An administrator disables an account (every session and token of it ends at once, for
    good) or enables it again with its old password."""
    account = _account_named(uow, username)
    account.is_active = active
    if not active:
        sessions.end_all(uow, account)
    return account


def set_password(uow: UnitOfWork, username: str, password: str) -> Account:
    """An administrator sets a new password: every session and token of the account ends,
    and a wait on its username is lifted."""
    account = _account_named(uow, username)
    if not PASSWORD_MIN_LENGTH <= len(password or "") <= PASSWORD_MAX_LENGTH:
        raise ValidationFailed(
            "The password is not acceptable.",
            errors={"password": [PASSWORD_RULE]},
        )
    account.password_hash = hash_password(password)
    sessions.end_all(uow, account)
    login_throttle.unlock(uow, account.username)
    return account


def authenticate(
    uow: UnitOfWork, username: str, password: str, *, device: str | None = None
) -> Account:
    """The active account with these credentials, or AuthenticationFailed; `device` is the
    id of a device its owner logged in from before (the caller checked its signed cookie)."""
    return _check_credentials(uow, username, password, device)


def _check_credentials(
    uow: UnitOfWork, username: str, password: str, device: str | None = None
) -> Account:
    """Verify the password, rehash it if the parameters changed, note the login (a wrong
    password is counted even though the use case rolls back; a username or device that must
    wait is refused before its password is tried).

    Wrong passwords from a known device count against that device only, the others against
    the username: guesses from elsewhere slow down guesses from elsewhere, never the owner on
    their own device. An unknown username costs one hash verification too, and is throttled
    the same way, so that neither timing nor a wait tells which usernames exist.
    """
    now = uow.now
    name = normalise_username(username)
    throttle_key = login_throttle.key(name[:USERNAME_MAX_LENGTH], device)  # longer: no account
    login_throttle.check(uow, throttle_key, now)
    account = uow.session.scalar(select(Account).where(Account.username == name))
    password = password or ""
    try:
        if len(password) > PASSWORD_MAX_LENGTH:
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        try:
            password_hasher.verify(account.password_hash if account else _dummy_hash(), password)
        except (VerificationError, InvalidHashError) as error:
            raise AuthenticationFailed(WRONG_CREDENTIALS) from error
        if account is None:
            raise AuthenticationFailed(WRONG_CREDENTIALS)
    except AuthenticationFailed:
        login_throttle.record_failure(uow, throttle_key, now)
        raise
    if not account.is_active:
        raise AuthenticationFailed(
            Message("account_disabled", "This account is disabled; ask an administrator.")
        )
    if password_hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = now
    login_throttle.clear(uow, throttle_key)
    return account


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def issue_token(uow: UnitOfWork, account: Account, lifetime_seconds: int) -> tuple[str, datetime]:
    """A new bearer token for `account`; only its SHA-256 hash is stored."""
    return _add_token(uow, account, lifetime_seconds)


def token_for_credentials(
    uow: UnitOfWork,
    username: str,
    password: str,
    lifetime_seconds: int,
    *,
    device: str | None = None,
) -> tuple[Account, str, datetime]:
    """Log in with a username and password and get a bearer token, in one transaction."""
    account = _check_credentials(uow, username, password, device)
    token, expires_at = _add_token(uow, account, lifetime_seconds)
    return account, token, expires_at


def _add_token(
    uow: UnitOfWork,
    account: Account | None,
    lifetime_seconds: int,
    *,
    software_client_id: int | None = None,
    scopes: str | None = None,
) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = uow.now + timedelta(seconds=lifetime_seconds)
    uow.session.add(
        ApiToken(
            account_id=account.id if account is not None else None,
            software_client_id=software_client_id,
            scopes=scopes,
            token_hash=sessions.token_hash(token),
            expires_at=expires_at,
        )
    )
    return token, expires_at


def issue_software_token(
    uow: UnitOfWork,
    account: Account | None,
    software_client_id: int,
    scopes: str,
    lifetime_seconds: int,
) -> tuple[str, datetime]:
    """A new bearer token of a software client, for a professional (`account`) or for the
    software alone (None), limited to `scopes`; only its SHA-256 hash is stored."""
    return _add_token(
        uow, account, lifetime_seconds, software_client_id=software_client_id, scopes=scopes
    )


# What a request needs of its caller, loaded with the account in the same statement: the person,
# and the prescriber or the pharmacist with their pharmacy (the audit actor, prescriber_of,
# pharmacist_of read these, so no use case asks again).
_CALLER = (
    joinedload(Account.person).joinedload(Person.prescriber),
    joinedload(Account.person).joinedload(Person.pharmacist).joinedload(Pharmacist.pharmacy),
)


# A token's last use is written at most this often, so a busy client does not write on every
# call; its idle timeout is therefore this much coarser than a session's.
TOKEN_USE_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenHolder:
    """Who a bearer token speaks for: an account, a software client, or both, and the scopes
    the token was given (None: every scope of the account's role)."""

    account: Account | None
    software: SoftwareClient | None
    scopes: frozenset[str] | None


def account_for_token(uow: UnitOfWork, token: str) -> Account:
    """The active account a bearer token belongs to, or AuthenticationRequired (as
    token_holder, for a token that names an account)."""
    account = token_holder(uow, token).account
    if account is None:
        raise AuthenticationRequired("token expired or invalid")
    return account


def token_holder(uow: UnitOfWork, token: str) -> TokenHolder:
    """The active account and the software client (not revoked) a bearer token belongs to, with
    the person and professional records and the software's organisation: one statement; or
    AuthenticationRequired if the token is unknown, expired or was left unused longer than the
    idle timeout of the account's role (a professional's for software acting alone)."""
    row = uow.session.execute(
        select(
            Account,
            SoftwareClient,
            ApiToken.id,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.scopes,
        )
        .select_from(ApiToken)
        .outerjoin(Account, ApiToken.account_id == Account.id)
        .outerjoin(SoftwareClient, ApiToken.software_client_id == SoftwareClient.id)
        .where(
            ApiToken.token_hash == sessions.token_hash(token),
            ApiToken.expires_at > uow.now,
            or_(ApiToken.account_id.is_(None), Account.is_active.is_(True)),
            or_(ApiToken.software_client_id.is_(None), SoftwareClient.revoked_at.is_(None)),
            or_(ApiToken.account_id.is_not(None), ApiToken.software_client_id.is_not(None)),
        )
        .options(
            *_CALLER,
            joinedload(SoftwareClient.pharmacy),
            joinedload(SoftwareClient.practice),
        )
    ).first()
    if row is None:
        raise AuthenticationRequired("token expired or invalid")
    account, software, token_id, created_at, last_used_at, scopes = row
    unused_for = uow.now - (last_used_at or created_at)
    role = account.role if account is not None else Role.PRESCRIBER
    if unused_for >= token_idle_timeout(uow, role):
        raise AuthenticationRequired("token expired or invalid")
    if unused_for >= TOKEN_USE_GRANULARITY:
        uow.session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=uow.now)
        )
    return TokenHolder(account, software, frozenset(scopes.split()) if scopes is not None else None)


def token_idle_timeout(uow: UnitOfWork, role: Role) -> timedelta:
    """How long a bearer token of `role` may go unused (the session's idle timeout)."""
    settings = uow.settings
    minutes = (
        settings.token_idle_minutes_patient if role is Role.PATIENT else settings.token_idle_minutes
    )
    return timedelta(minutes=minutes)


def active_account(uow: UnitOfWork, account_id: int) -> Account | None:
    """The account behind a session cookie (loaded as account_for_token does), or None if it
    is gone or disabled."""
    account = uow.session.get(Account, account_id, options=_CALLER)
    return account if account is not None and account.is_active else None


def profile(uow: UnitOfWork, account: Account | None = None) -> Profile:
    """Name, role and, for professionals, their number and pharmacy, of `account` (by
    default the acting account)."""
    account = account if account is not None else uow.require_account()
    person = account.person
    professional: dict[str, str | None] = {}
    if person is not None and account.role is Role.PRESCRIBER:
        prescriber = person.prescriber
        if prescriber is None:
            raise NotFound(f"The prescriber account {account.username!r} has no RPPS record.")
        professional.update(rpps=prescriber.rpps, specialty=prescriber.specialty)
    if person is not None and account.role is Role.PHARMACIST:
        pharmacist = person.pharmacist
        if pharmacist is None:
            raise NotFound(f"The pharmacist account {account.username!r} has no pharmacy.")
        professional.update(
            pharmacy_name=pharmacist.pharmacy.name, pharmacy_finess=pharmacist.pharmacy.finess
        )
    return Profile(
        username=account.username,
        role=account.role,
        name=person.full_name if person else account.username,
        **professional,
    )


def has_non_demo_people(uow: UnitOfWork) -> bool:
    """Whether real accounts, persons or pharmacies are recorded."""
    return any(
        uow.session.scalar(select(func.count()).select_from(model).where(model.is_demo.is_(False)))
        for model in (Account, Person, Pharmacy)
    )

"""The demo: a prescriber, a pharmacist in a pharmacy, a patient and an admin, and a catalog."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypedDict, Unpack

from sqlalchemy import func, select

from eprescription.catalog import importer
from eprescription.domain import prescribing_rules
from eprescription.domain.errors import Conflict, PermissionDenied
from eprescription.domain.identifiers import ESTONIA
from eprescription.domain.prescriptions import OPEN_STATES, ItemDraft, today_of
from eprescription.models import Account, Person, Pharmacy, Prescription, Product, Role
from eprescription.services import accounts, issuing, pki, prescription_drafts, software_demo
from eprescription.services.accounts import PersonDetails
from eprescription.services.uow import UnitOfWork

DEMO_BDPM_DIR = Path(importer.__file__).resolve().parent / "demo_bdpm"
PRODUCTION = "production"
DEMO_PHARMACY = {
    "finess": "750001232",
    "name": "Pharmacie de la Gare (demo)",
    "address": "1 place de la Gare, 75010 Paris",
}


DEMO_PIN = "1234"  # the demo prescriber's signing PIN, published like the passwords


@dataclass(frozen=True)
class DemoUser:
    role: Role
    username: str
    password: str  # fixed and published on purpose: the demo refuses to run in production
    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None
    national_ids: dict[str, str] | None = None  # per country; each agrees with the birth date
    rpps: str | None = None
    specialty: str = ""
    pin: str | None = None  # signing PIN (prescribers), published like the password
    setting: str = prescribing_rules.COMMUNITY  # prescribers: community or hospital


# The demo's people: given and family name, birth date, and the national identifiers that
# agree with it (a French NIR, an Estonian isikukood), by the name of their login.
DEMO_PEOPLE = {
    "prescriber": ("Claire", "Martin", date(1972, 11, 5), "172116912304521", "47211050122"),
    "pharmacist": ("Julien", "Bernard", date(1990, 6, 18), "190063306320126", "39006180123"),
    "patient": ("Camille", "Dubois", date(1985, 3, 12), "285037505612306", "48503120124"),
    "hospital": ("Hugo", "Lefèvre", date(1978, 6, 15), "178067505612458", "37806150100"),
}


class _Practice(TypedDict, total=False):
    """A demo prescriber's practice, as DemoUser holds it."""

    rpps: str
    specialty: str
    setting: str


def _demo_user(role: Role, name: str, **practice: Unpack[_Practice]) -> DemoUser:
    """The login demo-`name`, password demo-`name`-2026, of the demo person of that name; a
    prescriber signs with DEMO_PIN."""
    username = f"demo-{name}"
    password = f"{username}-2026"
    pin = DEMO_PIN if role is Role.PRESCRIBER else None
    if name not in DEMO_PEOPLE:
        return DemoUser(role, username, password, pin=pin, **practice)
    given_name, family_name, birth_date, nir, isikukood = DEMO_PEOPLE[name]
    national_ids = {"FR": nir, "EE": isikukood}
    person = (given_name, family_name, birth_date, national_ids)
    return DemoUser(role, username, password, *person, pin=pin, **practice)


DEMO_USERS = (
    _demo_user(Role.PRESCRIBER, "prescriber", rpps="10001234565", specialty="Médecine générale"),
    _demo_user(Role.PHARMACIST, "pharmacist"),
    _demo_user(Role.PATIENT, "patient"),
    _demo_user(Role.ADMIN, "admin"),
    # A hospital neurologist, who may prescribe what the GP above is refused (docs/rules.md).
    _demo_user(
        Role.PRESCRIBER,
        "hospital",
        rpps="10005555551",
        specialty="NEUROLOGIE",
        setting=prescribing_rules.HOSPITAL,
    ),
)


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    username: str
    password: str
    created: bool
    pin: str | None = None


@dataclass(frozen=True)
class DemoResult:
    logins: list[DemoLogin]
    catalog_summary: str
    prescription_number: str | None = None  # the demo prescription made by this run, if any


def seed(
    uow: UnitOfWork,
    *,
    environment: str,
    catalog_dir: Path = DEMO_BDPM_DIR,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Create the demo accounts that are missing, then load the demo catalog if none is loaded.

    Refused in production and on a database that holds real people, so that demo
    passwords can never open real data. Demo accounts already there are kept, and so is
    a catalog already loaded: the demo subset, imported as a release, would mark every
    other product of a full BDPM as removed. The demo patient also gets an active
    prescription signed by the demo prescriber, if they have none. (The catalog importer
    commits on its own, so what came before it is committed with it.)
    """
    session = uow.session
    if environment == PRODUCTION:
        raise PermissionDenied("The demo cannot be seeded in production (EPRESCRIPTION_ENV).")
    if accounts.has_non_demo_people(uow):
        raise Conflict(
            "This database holds real (non-demo) accounts, persons or pharmacies; "
            "the demo is only seeded into an empty or demo database."
        )
    logins = [_ensure(uow, user) for user in DEMO_USERS]
    for user in DEMO_USERS:
        if user.pin is not None:
            _ensure_signing_key(uow, user.username, user.pin)
    rpps = [user.rpps for user in DEMO_USERS if user.rpps]
    software_demo.ensure(uow, DEMO_PHARMACY["finess"], rpps)
    loaded = session.scalar(select(func.count()).select_from(Product))
    if loaded:
        summary = f"A catalog of {loaded} products is already loaded: kept."
    else:
        summary = importer.load_bdpm(session, catalog_dir, progress).summary()
    number = _ensure_demo_prescription(uow)
    return DemoResult(logins=logins, catalog_summary=summary, prescription_number=number)


def _ensure(uow: UnitOfWork, user: DemoUser) -> DemoLogin:
    session = uow.session
    if session.scalar(select(Account.id).where(Account.username == user.username)) is not None:
        return DemoLogin(user.role, user.username, user.password, created=False, pin=user.pin)
    pharmacy_finess = None
    if user.role is Role.PHARMACIST:
        pharmacy_finess = DEMO_PHARMACY["finess"]
        if session.scalar(select(Pharmacy.id).where(Pharmacy.finess == pharmacy_finess)) is None:
            accounts.add_pharmacy(uow, **DEMO_PHARMACY, is_demo=True)
    person = None
    if user.national_ids:
        national_id = user.national_ids[ESTONIA if uow.settings.country == ESTONIA else "FR"]
        person = PersonDetails(national_id, user.given_name, user.family_name, user.birth_date)
    accounts.add_account(
        uow,
        username=user.username,
        password=user.password,
        role=user.role,
        person=person,
        rpps=user.rpps,
        specialty=user.specialty,
        setting=user.setting,
        pharmacy_finess=pharmacy_finess,
        is_demo=True,
    )
    return DemoLogin(user.role, user.username, user.password, created=True, pin=user.pin)


def _ensure_signing_key(uow: UnitOfWork, username: str, pin: str) -> None:
    """A usable signing key with the published PIN: a development CA first if there is none;
    a blocked key is unblocked, a revoked or expired one replaced."""
    if pki.active_authority(uow) is None:
        pki.init_ca(uow)
    prescriber = pki.prescriber_for_username(uow, username)
    credential = pki.current_credential(uow, prescriber)
    if credential is None or credential.revoked_at or not credential.is_valid_at(uow.now):
        pki.enroll_prescriber(uow, prescriber, pin)
    elif credential.blocked_at or credential.failed_pin_attempts:
        pki.unblock(uow, prescriber)


# The demo patient's prescription (issue 5): something to see in the health space at once.
# Amlodipine 5 mg, a monthly treatment renewed twice. Not paracetamol: the prescriber's demo
# journey prescribes Doliprane to the same patient and must not meet a duplicate-therapy warning.
DEMO_LINES = (("65728601", "1 gélule le matin, pendant 30 jours", 1),)
DEMO_RENEWALS = 2


def _ensure_demo_prescription(uow: UnitOfWork) -> str | None:
    """Issue and sign (PIN 1234) a prescription for the demo patient unless they have an
    active one; its number, or None when none was needed or the catalog lacks the products."""
    session = uow.session
    doctor = session.scalars(
        select(Account).where(Account.username == DEMO_USERS[0].username)
    ).one()
    patient = session.scalars(
        select(Person)
        .join(Account, Account.person_id == Person.id)
        .where(Account.username == DEMO_USERS[2].username)
    ).one()
    today = today_of(uow.now)
    has_active = session.scalar(
        select(func.count(Prescription.id)).where(
            Prescription.patient_person_id == patient.id,
            Prescription.status.in_([str(status) for status in OPEN_STATES]),
            Prescription.valid_until >= today,
        )
    )
    items = [
        # A long-term treatment the doctor renews expressly, as liste I requires (R5132-22).
        ItemDraft(cis=cis, dosage_text=text, quantity=quantity, renewal_authorised=True)
        for cis, text, quantity in DEMO_LINES
        if (product := session.get(Product, cis)) is not None and product.is_prescribable
    ]
    if has_active or not items:
        return None
    request = prescription_drafts.IssueRequest(
        patient_nir=patient.national_id,
        pin=DEMO_PIN,
        items=items,
        renewals=DEMO_RENEWALS,
    )
    # The demo prescriber acts, in the seed's transaction: their events are buffered on the
    # same session and written when the seed commits (the PIN is right, nothing is refused).
    as_doctor = UnitOfWork(session, uow.settings, doctor, now=uow.now)
    issued = issuing.issue(as_doctor, request)
    return issued.prescription.number

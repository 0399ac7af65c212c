"""A realistic population built in bulk (COPY), for bench/run.py: the full BDPM, patients,
enrolled prescribers, pharmacies with a pharmacist each, and signed prescriptions (some of them
dispensed, with receipts signed by the service), exactly as the service would have stored them.

The service's own functions do what they can do fast enough (the CA, enrolment, the service
key, validating the medication templates, the canonical content of a prescription, tokens);
the many rows are written with eprescription.models.bulk.bulk_insert. Where a row is built here
rather than by the service, the comment names the service code it mirrors.
"""

import hashlib
import logging
import multiprocessing
import os
import random
import secrets
import signal
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from catalog_search import BDPM_DIR, realistic_queries
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from issue import PASSWORD, PIN, make_nir, make_rpps
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, joinedload
from stdnum import luhn

from eprescription import create_app, qr, use_cases
from eprescription.catalog.importer import import_bdpm
from eprescription.db import get_session, make_engine
from eprescription.domain import dispensing as dispensing_rules
from eprescription.domain import prescription_codes as codes
from eprescription.domain import prescriptions as rules
from eprescription.domain.errors import DomainError
from eprescription.domain.prescriptions import OBJECT_TYPE, ItemDraft, Status
from eprescription.domain.signed_prescription import iso_seconds
from eprescription.models import (
    Account,
    CompositionLine,
    Dispensation,
    DispensationLine,
    Person,
    Pharmacist,
    Pharmacy,
    Prescriber,
    PrescriberCredential,
    Prescription,
    PrescriptionItem,
    Presentation,
    Product,
    Role,
    ServiceKey,
)
from eprescription.models.bulk import bulk_insert
from eprescription.services import (
    accounts,
    dispensed_packs,
    issuing,
    pki,
    prescription_drafts,
    receipts,
    verification,
)
from eprescription.services.uow import UnitOfWork
from eprescription.signing import certificates, jws, keywrap
from eprescription.signing.canonical import canonical_json
from eprescription.signing.keyring import DEFAULT_KEY_ID

log = logging.getLogger("bench.population")

COUNTRY = "FR"
TOKEN_LIFETIME = 24 * 3600
CHUNK = 2000  # prescriptions signed per worker task and written per COPY
# The CA and the signing keys are dated back so that a year of history verifies: a signature
# is checked against the certificate's validity at the payload's issued_at.
PKI_AGE = timedelta(days=400)
PACK_EXPIRY = timedelta(days=400)
PATIENT_READERS = 300  # patient tokens for GET /api/v1/me/prescriptions
SCAN_POOL_MAX = 5000

# fmt: off
GIVEN_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Emma", "Alice",
    "Lina", "Hugo", "Lucas", "Louis", "Gabriel", "Arthur", "Jules", "Adam", "Raphaël",
    "Paul", "Nathan", "Marie", "Jeanne", "Françoise", "Monique", "Pierre", "Jean", "Michel",
    "André",
)
FAMILY_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
    "Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David",
    "Bertrand", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
    "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc",
    "Guérin", "Boyer", "Garnier", "Chevalier",
)
# fmt: on
TOWNS = (
    "75010 Paris",
    "69002 Lyon",
    "13001 Marseille",
    "33000 Bordeaux",
    "59000 Lille",
    "31000 Toulouse",
    "44000 Nantes",
    "67000 Strasbourg",
)
# Products as prescribers name them (first prescribable match with a priced pack wins), and
# the dosage they write. Each product with a single active substance of known strength also
# gives a line "by substance" (DCI) for the same substance, strength and form.
MEDICATIONS = (
    ("DOLIPRANE 1000 mg, comprimé", "1 comprimé jusqu'à 3 fois par jour si douleur", 1, 3, 5),
    ("DOLIPRANE 500 mg, gélule", "1 à 2 gélules jusqu'à 3 fois par jour", 2, 3, 5),
    ("EFFERALGAN 1 g, comprimé", "1 comprimé jusqu'à 3 fois par jour", 1, 3, 5),
    ("AMOXICILLINE BIOGARAN 1 g, comprimé", "1 comprimé matin et soir pendant 6 jours", 1, 2, 6),
    ("AUGMENTIN 1 g/125 mg", "1 sachet matin, midi et soir pendant 7 jours", 1, 3, 7),
    ("SPASFON 80 mg, comprimé", "2 comprimés en cas de douleur, 3 fois par jour au plus", 2, 3, 5),
    ("KARDEGIC 75 mg", "1 sachet par jour", 1, 1, 30),
    ("LEVOTHYROX 75 microgrammes", "1 comprimé le matin à jeun", 1, 1, 30),
    ("METFORMINE BIOGARAN 1000 mg", "1 comprimé matin et soir au milieu du repas", 1, 2, 30),
    ("ATORVASTATINE BIOGARAN 20 mg", "1 comprimé le soir", 1, 1, 30),
    ("AMLODIPINE BIOGARAN 5 mg", "1 gélule le matin", 1, 1, 30),
    ("OMEPRAZOLE BIOGARAN 20 mg", "1 gélule le matin avant le repas", 1, 1, 28),
    ("IBUPROFENE BIOGARAN 400 mg", "1 comprimé 3 fois par jour pendant le repas", 1, 3, 5),
    ("VENTOLINE 100 microgrammes", "2 bouffées en cas de gêne respiratoire", 2, 4, 30),
    ("GAVISCON", "1 sachet après les repas", 1, 3, 10),
    ("SMECTA 3 g", "1 sachet 3 fois par jour", 1, 3, 3),
)


@dataclass(frozen=True)
class Sizes:
    patients: int = 10_000
    prescribers: int = 200
    pharmacies: int = 50
    prescriptions: int = 100_000
    dispensed_fraction: float = 0.3  # of the prescriptions issued more than two days ago
    history_days: int = 365  # prescriptions are issued over this many past days
    seed: int = 20240901


SMALL = Sizes(patients=500, prescriptions=2000, history_days=100)


@dataclass
class Population:
    """What the load needs, kept in memory while building: tokens, QR texts, request data."""

    sizes: Sizes
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    prescriber_tokens: list[str] = field(default_factory=list)
    pharmacist_tokens: list[str] = field(default_factory=list)
    patient_tokens: list[str] = field(default_factory=list)  # patients with ~3 active
    patient_nirs: list[str] = field(default_factory=list)
    issue_items: list[list[dict]] = field(default_factory=list)  # API bodies: [by CIS, by DCI]
    scan_codes: list[str] = field(default_factory=list)  # QR texts of open prescriptions
    dispensable: list[dict] = field(default_factory=list)  # {"id", "body"}: untouched, public
    queries: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Template:
    """A prescription line the service accepts, as it signs it, and the pack dispensed for it."""

    api_item: dict  # the line as POST /api/v1/prescriptions takes it
    content: dict  # the line as prescription_drafts.prepare() signs it (line 1, quantity 1)
    by_substance: bool
    cip13: str
    label: str
    product_name: str
    reimbursement_rate: int | None
    unit_price_cents: int
    substituted: bool


def unit_of_work(session, account=None, *, now: datetime | None = None):
    """The service's unit of work on the build's session (settings of the current app), dated
    `now`: the one place the build opens one."""
    return UnitOfWork(session, use_cases.settings(), account, now=now)


@contextmanager
def step(population: Population, name: str):
    started = time.perf_counter()
    log.info("%s …", name)
    yield
    seconds = time.perf_counter() - started
    population.timings[name] = round(seconds, 2)
    log.info("%s: %.1f s", name, seconds)


def build(url: str, key_encryption_key: str, sizes: Sizes) -> Population:
    """Import the BDPM into the migrated database at `url` and build the population."""
    population = Population(sizes)
    started = time.perf_counter()
    app = create_app(
        {
            "ENVIRONMENT": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(16),
            "KEY_ENCRYPTION_KEY": key_encryption_key,
        }
    )
    kek = app.config["KEY_ENCRYPTION_KEY"]
    engine = app.extensions["db_engine"]
    now = datetime.now(UTC).replace(microsecond=0)
    epoch = now - PKI_AGE
    with app.app_context():
        session = get_session()
        with step(population, "import the full BDPM"):
            import_bdpm(session, BDPM_DIR)
        with step(population, "CA, people, accounts, enrolment"):
            with unit_of_work(session, now=epoch) as uow:
                pki.init_ca(uow)
            _people(session, sizes)
            signers = _enrol(session, sizes, kek, epoch)
            service_signer = _service_signer(session, kek, epoch)
        with step(population, "medication templates"):
            templates = _templates(session, now)
            population.queries = _queries(session, sizes.seed)
        context = _Context(
            sizes=sizes,
            now=now,
            kek=kek,
            templates=templates,
            signers=signers,
            service=service_signer,
            pharmacies=_pharmacy_info(sizes),
        )
        session.commit()
        session.close()
    engine.dispose()  # no connection may be shared with the forked workers
    with step(population, "signed prescriptions and dispensations"):
        summaries, events = _prescriptions(app, context)
    with app.app_context():
        _reset_sequences(get_session())
    engine.dispose()  # forked again below
    with step(population, "audit events"):
        population.counts["audit_events"] = write_population_audit_events(url, events, sizes)
    with app.app_context():
        session = get_session()
        with step(population, "tokens and request data"):
            _pools(session, population, context, summaries)
        _self_check(session)
        session.close()
    engine.dispose()
    with step(population, "VACUUM ANALYZE"):
        _vacuum(url)
    dispensed = sum(1 for summary in summaries if summary.dispensed)
    population.counts.update(
        patients=sizes.patients,
        prescribers=sizes.prescribers,
        pharmacies=sizes.pharmacies,
        pharmacists=sizes.pharmacies,
        prescriptions=len(summaries),
        dispensations=dispensed,
        open_today=sum(1 for summary in summaries if summary.open_today),
    )
    population.timings["total"] = round(time.perf_counter() - started, 2)
    return population


# -- people --------------------------------------------------------------------------------------
# Ids are given here (persons, accounts: one each, the same id; prescribers 1..P; pharmacies and
# pharmacists 1..F); _reset_sequences moves the sequences past them afterwards.


def _prescriber_person_id(index: int) -> int:
    return index + 1


def _pharmacist_person_id(sizes: Sizes, index: int) -> int:
    return sizes.prescribers + index + 1


def _patient_person_id(sizes: Sizes, index: int) -> int:
    return sizes.prescribers + sizes.pharmacies + index + 1


def _finess(index: int) -> str:
    body = f"330{index:05d}"  # as bench/dispense.py's pharmacist_token
    return body + luhn.calc_check_digit(body)


def _patient_identity(index: int) -> tuple[str, date]:
    """A valid NIR (sex, year and month of birth, Paris, commune, order) and its birth date."""
    year, month = 1940 + (index * 7) % 66, 1 + (index // 3) % 12
    body = f"{1 + index % 2}{year % 100:02d}{month:02d}75{100 + (index // 999) % 900:03d}"
    body += f"{index % 999 + 1:03d}"
    return make_nir(body), date(year, month, 1 + index % 28)


def _person(person_id: int, national_id: str, given: str, family: str, born: date) -> dict:
    return {
        "id": person_id,
        "national_id": national_id,
        "country": COUNTRY,
        "family_name": family,
        "given_name": given,
        "birth_date": born,
        "is_demo": False,
    }


def _account(person_id: int, username: str, role: Role, password_hash: str, now) -> dict:
    return {
        "id": person_id,
        "username": username,
        "password_hash": password_hash,
        "role": role.value,
        "person_id": person_id,
        "is_active": True,
        "is_demo": False,
        "created_at": now,
        "last_login_at": None,
    }


def _people(session, sizes: Sizes) -> None:
    """Persons and accounts for everyone, prescribers, pharmacies and pharmacists (COPY).

    Every account has the same password (bench-password-1234), so one argon2id hash serves
    them all: hashing 10,000 passwords would take half an hour.
    """
    password_hash = accounts.hash_password(PASSWORD)
    now = datetime.now(UTC)
    persons, logins, prescriber_rows, pharmacy_rows, pharmacist_rows = [], [], [], [], []
    for index in range(sizes.prescribers):  # identifiers as bench/issue.py's prescribers
        person_id = _prescriber_person_id(index)
        nir = make_nir(f"1721169{index + 1:03d}045")
        persons.append(_person(person_id, nir, "Claire", f"Martin{index}", date(1972, 11, 5)))
        logins.append(
            _account(person_id, f"bench.prescriber.{index}", Role.PRESCRIBER, password_hash, now)
        )
        prescriber_rows.append(
            {
                "id": index + 1,
                "person_id": person_id,
                "rpps": make_rpps(f"100012{index:04d}"),
                "specialty": "General practice",
            }
        )
    for index in range(sizes.pharmacies):  # as bench/dispense.py's pharmacist_token
        person_id = _pharmacist_person_id(sizes, index)
        nir = make_nir(f"1900633{index + 1:03d}201")
        persons.append(_person(person_id, nir, "Julien", f"Bernard{index}", date(1990, 6, 18)))
        logins.append(
            _account(person_id, f"bench.pharmacist.{index}", Role.PHARMACIST, password_hash, now)
        )
        pharmacy_rows.append(
            {
                "id": index + 1,
                "finess": _finess(index),
                "name": f"Pharmacie {index}",
                "address": f"{index + 1} place de la République, {TOWNS[index % len(TOWNS)]}",
                "is_demo": False,
            }
        )
        pharmacist_rows.append(
            {"id": index + 1, "person_id": person_id, "pharmacy_id": index + 1, "rpps": None}
        )
    for index in range(sizes.patients):
        person_id = _patient_person_id(sizes, index)
        nir, born = _patient_identity(index)
        given = GIVEN_NAMES[index % len(GIVEN_NAMES)]
        family = FAMILY_NAMES[(index // len(GIVEN_NAMES)) % len(FAMILY_NAMES)]
        persons.append(_person(person_id, nir, given, family, born))
        logins.append(
            _account(person_id, f"bench.patient.{index}", Role.PATIENT, password_hash, now)
        )
    bulk_insert(session, Person.__table__, persons)
    bulk_insert(session, Account.__table__, logins)
    bulk_insert(session, Prescriber.__table__, prescriber_rows)
    bulk_insert(session, Pharmacy.__table__, pharmacy_rows)
    bulk_insert(session, Pharmacist.__table__, pharmacist_rows)
    _reset_sequences(session)
    session.commit()


def _enrol(session, sizes: Sizes, kek: bytes, epoch: datetime) -> dict:
    """Each prescriber enrolled by the service (PIN 2468, dated `epoch`); their opened keys."""
    signers = {}
    prescribers = session.scalars(
        select(Prescriber).options(joinedload(Prescriber.person)).order_by(Prescriber.id)
    ).all()
    for prescriber in prescribers:
        with unit_of_work(session, now=epoch) as uow:
            credential = pki.enroll_prescriber(uow, prescriber, PIN)
        signers[prescriber.id] = _Signer(
            key=keywrap.unwrap_private_key(
                credential.wrapped_key,
                server_secret=kek,
                pin=PIN,
                purpose=f"prescriber:{credential.serial}",  # as pki.sign_as_prescriber
            ),
            chain_pems=(credential.certificate_pem, credential.authority.certificate_pem),
            identity=SimpleNamespace(
                rpps=prescriber.rpps,
                person=SimpleNamespace(
                    family_name=prescriber.person.family_name,
                    given_name=prescriber.person.given_name,
                ),
            ),
            account_id=prescriber.person_id,
        )
    count = session.scalar(select(PrescriberCredential.id).order_by(PrescriberCredential.id.desc()))
    assert count == len(signers) == sizes.prescribers, (count, len(signers))
    return signers


def _service_signer(session, kek: bytes, epoch: datetime) -> "_Signer":
    """The service's receipt key, made by the service (dated `epoch`), opened as it opens it."""
    with unit_of_work(session, now=epoch) as uow:
        pki.sign_as_service(uow, b"{}")
    row = session.scalar(
        select(ServiceKey).options(joinedload(ServiceKey.authority)).order_by(ServiceKey.id)
    )
    return _Signer(
        key=keywrap.unwrap_private_key(
            row.wrapped_key, server_secret=kek, purpose=f"service:{row.serial}"
        ),
        chain_pems=(row.certificate_pem, row.authority.certificate_pem),
    )


def _pharmacy_info(sizes: Sizes) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(
            id=index + 1,
            finess=_finess(index),
            name=f"Pharmacie {index}",
            account_id=_pharmacist_person_id(sizes, index),
            family_name=f"Bernard{index}",
            given_name="Julien",
        )
        for index in range(sizes.pharmacies)
    ]


@dataclass
class _Signer:
    key: object
    chain_pems: tuple[str, str]
    identity: object = None
    account_id: int | None = None
    header: str | None = None

    def sign(self, payload: bytes) -> str:
        """The compact JWS jws.sign_compact makes (as pki.sign_as_*). Its protected header (alg,
        typ, x5c) is the same for every document of one key: it is taken once from a token of
        sign_compact itself, instead of canonicalising the certificates 100,000 times."""
        if self.header is None:
            chain = [certificates.from_pem(pem) for pem in self.chain_pems]
            self.header = jws.sign_compact(b"{}", self.key, chain).split(".")[0]
        signing_input = f"{self.header}.{jws.b64url_encode(payload)}"
        der = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        return f"{signing_input}.{jws.b64url_encode(jws.der_to_raw(der))}"


# -- medication templates ------------------------------------------------------------------------


def _templates(session, now: datetime) -> dict[str, list[Template]]:
    """Lines by product and by substance that the service accepts (checked with
    prescription_drafts.prepare) and a priced pack that dispensing accepts for each."""
    prescriber = session.scalar(select(Account).where(Account.username == "bench.prescriber.0"))
    patient = session.scalar(select(Person).where(Person.national_id == _patient_identity(0)[0]))
    found: dict[str, list[Template]] = {"product": [], "substance": []}
    for pattern, dosage, dose, per_day, days in MEDICATIONS:
        product = session.scalars(
            select(Product)
            .where(Product.name.like(pattern + "%"))
            .where(Product.removed_from_bdpm_at.is_(None))
            .order_by(Product.name, Product.cis)
        ).first()
        if product is None or not product.is_prescribable:
            continue
        pack = _priced_pack(session, product.cis)
        if pack is None:
            continue
        structured = {
            "dose": str(dose),
            "dose_unit": product.form.split()[0] if product.form else None,
            "frequency_per_day": per_day,
            "duration_days": days,
        }
        api_item = {"cis": product.cis, "dosage_text": dosage, "quantity": 1, **structured}
        kinds = [("product", api_item)]
        substances = session.scalars(
            select(CompositionLine)
            .where(CompositionLine.cis == product.cis)
            .where(CompositionLine.nature == "SA")
        ).all()
        if len(substances) == 1 and substances[0].strength:
            substance = {
                "code": substances[0].substance_code,
                "strength": substances[0].strength,
                "form": product.form,
            }
            kinds.append(
                (
                    "substance",
                    {"substance": substance, "dosage_text": dosage, "quantity": 1, **structured},
                )
            )
        for kind, item in kinds:
            template = _checked_template(session, prescriber, patient, item, pack, now)
            if template is not None:
                found[kind].append(template)
    log.info(
        "templates: %d by product, %d by substance",
        len(found["product"]),
        len(found["substance"]),
    )
    if not found["product"] or not found["substance"]:
        raise SystemExit("no usable medication template in this BDPM: see bench/population.py")
    return found


def _priced_pack(session, cis: str) -> Presentation | None:
    return session.scalars(
        select(Presentation)
        .options(joinedload(Presentation.product))
        .where(Presentation.cis == cis)
        .where(Presentation.removed_from_bdpm_at.is_(None))
        .where(Presentation.price_cents.is_not(None))
        .order_by(Presentation.cip13)
    ).first()


def _checked_template(session, prescriber, patient, item, pack, now) -> Template | None:
    substance = item.get("substance") or {}
    draft = ItemDraft(  # as api/prescriptions.py's _item
        cis=item.get("cis"),
        substance_code=substance.get("code"),
        strength=substance.get("strength"),
        form=substance.get("form"),
        dosage_text=item["dosage_text"],
        dose=item.get("dose"),
        dose_unit=item.get("dose_unit"),
        frequency_per_day=item.get("frequency_per_day"),
        duration_days=item.get("duration_days"),
        quantity=item["quantity"],
    )
    request = prescription_drafts.IssueRequest(
        patient_nir=patient.national_id, pin=PIN, items=[draft]
    )
    uow = unit_of_work(session, prescriber, now=now)
    try:
        with uow:  # changes nothing
            prepared = prescription_drafts.prepare(uow, request)
    except DomainError as error:  # a line the service refuses is left out, and said so
        log.info("template %s refused by the service: %s", item, error)
        return None
    content = prepared.content["items"][0]
    prescribed = dispensing_rules.PrescribedLine(  # as SignedLine.prescribed
        cis=content["medication"].get("cis"),
        substance_code=content["medication"].get("substance_code"),
        strength=content["medication"].get("strength"),
        form=content["medication"].get("form"),
        substitutable=content["substitutable"],
        non_substitution_reason=content.get("non_substitution_reason"),
    )
    catalog = dispensed_packs.catalog_of(uow, {pack.cip13}, {prescribed.cis} - {None})
    decision = dispensing_rules.check_pack(
        prescribed, catalog.packs[pack.cip13], catalog.groups(prescribed.cis)
    )
    unit = dispensed_packs.catalog_price(pack)
    if not decision.accepted or unit is None:
        log.info("template %s: pack %s not accepted: %s", item, pack.cip13, decision.reason)
        return None
    return Template(
        api_item=item,
        content=content,
        by_substance="substance" in item,
        cip13=pack.cip13,
        label=pack.label,
        product_name=pack.product.name,
        reimbursement_rate=pack.reimbursement_rate,
        unit_price_cents=unit,
        substituted=decision.substituted,
    )


COMMON_QUERIES = (
    "amoxicilline",
    "doliprane",
    "paracetamol 500",
    "paracétamol 1000",
    "ibuprofene 400",
    "augmentin",
    "levothyrox",
    "kardegic",
    "spasfon",
    "ventoline",
    "metformine 1000",
    "atorvastatine 20",
    "omeprazole",
    "amlodipine 5",
    "smecta",
    "efferalgan",
)


def _queries(session, seed: int) -> list[str]:
    """Half common queries, half bench/catalog_search.py's realistic mix (codes, prefixes …)."""
    mixed = realistic_queries(session, random.Random(seed))
    common = [COMMON_QUERIES[index % len(COMMON_QUERIES)] for index in range(len(mixed))]
    return common + mixed


# -- prescriptions and dispensations -------------------------------------------------------------


@dataclass
class _Context:
    """Everything a worker needs to build its chunk (inherited at fork)."""

    sizes: Sizes
    now: datetime
    kek: bytes
    templates: dict[str, list[Template]]
    signers: dict[int, _Signer]
    service: _Signer
    pharmacies: list[SimpleNamespace]


@dataclass(frozen=True)
class _Summary:
    """What the load needs to know of one prescription."""

    number: str
    qr_text: str
    patient_index: int
    open_today: bool
    dispensed: bool
    public: bool
    lines: tuple  # (line, cip13, quantity)


_CONTEXT: _Context | None = None


def _pool(workers: int):
    """Forked worker processes (they inherit the build's context), which leave Ctrl-C and
    SIGTERM to the parent: it stops them when it stops."""
    return multiprocessing.get_context("fork").Pool(workers, initializer=_quiet_worker)


def _quiet_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _prescriptions(app, context: _Context) -> tuple[list[_Summary], list[tuple]]:
    """Sign the prescriptions (and receipts) in worker processes; COPY them as they come."""
    global _CONTEXT
    _CONTEXT = context
    chunks = range((context.sizes.prescriptions + CHUNK - 1) // CHUNK)
    summaries, events, numbers = [], [], set()
    workers = max(1, os.cpu_count() or 1)
    with _pool(workers) as pool, app.app_context():
        session = get_session()
        session.execute(text("SET synchronous_commit = off"))
        for rows in pool.imap(_build_chunk, chunks):
            duplicates = numbers.intersection(rows["numbers"])
            if duplicates:  # 50 random bits each: practically never
                raise SystemExit(f"two prescriptions drew the same number: {duplicates}")
            numbers.update(rows["numbers"])
            bulk_insert(session, Prescription.__table__, rows["prescriptions"])
            bulk_insert(session, PrescriptionItem.__table__, rows["items"])
            bulk_insert(session, Dispensation.__table__, rows["dispensations"])
            bulk_insert(session, DispensationLine.__table__, rows["dispensation_lines"])
            session.commit()
            summaries.extend(rows["summaries"])
            events.extend(rows["events"])
            if len(summaries) % (10 * CHUNK) == 0:
                log.info("  %d prescriptions written", len(summaries))
        session.close()
    _CONTEXT = None
    return summaries, events


def _build_chunk(chunk: int) -> dict:
    """Prescriptions chunk*CHUNK … as rows: content, payload, JWS, access code, items; and the
    dispensations of some of them with their receipts."""
    context = _CONTEXT
    sizes, now = context.sizes, context.now
    rng = random.Random(sizes.seed * 1_000_003 + chunk)
    today = now.date()
    out = {
        key: []
        for key in (
            "prescriptions",
            "items",
            "dispensations",
            "dispensation_lines",
            "summaries",
            "events",
            "numbers",
        )
    }
    first = chunk * CHUNK
    for index in range(first, min(first + CHUNK, sizes.prescriptions)):
        patient_index = rng.randrange(sizes.patients)
        # Most people see their own doctor; some another one.
        prescriber_index = (
            patient_index % sizes.prescribers
            if rng.random() < 0.7
            else rng.randrange(sizes.prescribers)
        )
        signer = context.signers[prescriber_index + 1]
        issued_at = now - timedelta(seconds=rng.randrange(3600, sizes.history_days * 86400))
        renewals = 0 if rng.random() < 0.8 else rng.choice((1, 2, 3))
        valid_until = None if renewals == 0 else rules.add_months(issued_at.date(), 6)
        problems = rules.Problems()
        validity = rules.validity(problems, issued_at.date(), None, valid_until, renewals)
        assert not problems, problems.errors
        pickup_mode = rules.PickupMode.PUBLIC if rng.random() < 0.95 else rules.PickupMode.PRIVATE
        lines = _lines(rng, context.templates)
        patient_nir, born = _patient_identity(patient_index)
        patient = SimpleNamespace(
            id=_patient_person_id(sizes, patient_index),
            national_id=patient_nir,
            given_name=GIVEN_NAMES[patient_index % len(GIVEN_NAMES)],
            family_name=FAMILY_NAMES[(patient_index // len(GIVEN_NAMES)) % len(FAMILY_NAMES)],
            birth_date=born,
        )
        number = codes.new_number()
        access_code = codes.new_access_code()
        # As prescription_drafts.prepare + issuing.issue: the content, its number, its payload.
        content = prescription_drafts.prescription_content(
            number, patient, signer.identity, COUNTRY, issued_at, validity, pickup_mode
        )
        content["items"] = [
            {**template.content, "line": line, "quantity": quantity}
            for line, (template, quantity) in enumerate(lines, 1)
        ]
        payload = canonical_json(content)
        prescription_id = index + 1
        dispensed = issued_at < now - timedelta(days=2) and rng.random() < sizes.dispensed_fraction
        status = Status.ACTIVE
        if dispensed:
            status = Status.COMPLETED if renewals == 0 else Status.PARTIALLY_DISPENSED
        out["prescriptions"].append(
            {
                "id": prescription_id,
                "number": number,
                "patient_person_id": patient.id,
                "prescriber_id": prescriber_index + 1,
                "issued_at": issued_at,
                "valid_from": validity.valid_from,
                "valid_until": validity.valid_until,
                "renewals": validity.renewals,
                "pickup_mode": str(pickup_mode),
                "status": str(status),
                "version": 2 if dispensed else 1,
                "payload": payload,
                "jws": signer.sign(payload),
                "access_code_hash": codes.hash_access_code(access_code),
                "access_code_sealed": codes.seal_access_code(access_code, number, context.kek),
                "access_code_key_id": DEFAULT_KEY_ID,  # the id of a lone KEY_ENCRYPTION_KEY
            }
        )
        item_ids = []
        for line, item_content in enumerate(content["items"], 1):
            row = _item_row(prescription_id, line, item_content, renewals, dispensed)
            item_ids.append(row["id"])
            out["items"].append(row)
        out["numbers"].append(number)
        out["events"].append(("issue", issued_at, prescriber_index, number, patient.id))
        if dispensed:
            dispensed_at = issued_at + timedelta(
                seconds=rng.randrange(600, min(3 * 86400, int((now - issued_at).total_seconds())))
            )
            pharmacy = context.pharmacies[rng.randrange(sizes.pharmacies)]
            _dispensation(
                out, context, pharmacy, prescription_id, number, payload, renewals, lines,
                item_ids, dispensed_at,
            )  # fmt: skip
            out["events"].append(("dispense", dispensed_at, pharmacy.id, number, patient.id))
        open_today = validity.valid_from <= today <= validity.valid_until
        out["summaries"].append(
            _Summary(
                number=number,
                qr_text=qr.encode(number, access_code),
                patient_index=patient_index,
                open_today=open_today and status in rules.OPEN_STATES,
                dispensed=dispensed,
                public=pickup_mode == rules.PickupMode.PUBLIC,
                lines=tuple(
                    (line, template.cip13, quantity)
                    for line, (template, quantity) in enumerate(lines, 1)
                ),
            )
        )
    return out


def _lines(rng: random.Random, templates: dict[str, list[Template]]) -> list[tuple]:
    """Mostly two lines (one by product, one by substance), as POST /api/v1/prescriptions in
    the load; sometimes one."""
    chosen = [rng.choice(templates["product"]), rng.choice(templates["substance"])]
    if rng.random() < 0.3:
        chosen = [rng.choice(chosen)]
    return [(template, rng.choice((1, 1, 2, 3))) for template in chosen]


def _item_row(prescription_id, line, content, renewals, dispensed) -> dict:
    """The line's row: issuing.item_row's columns, quantity_total as the model's
    before_insert listener fills it, dispensed_quantity after the population's dispensation."""
    item = issuing.item_row(line, content)
    row = {column.key: getattr(item, column.key) for column in PrescriptionItem.__table__.columns}
    row.update(
        id=2 * (prescription_id - 1) + line,  # at most two lines each
        prescription_id=prescription_id,
        quantity_total=content["quantity"] * (1 + renewals),
        dispensed_quantity=content["quantity"] if dispensed else 0,
        cancellation_id=None,
    )
    return row


def _dispensation(
    out, context, pharmacy, prescription_id, number, payload, renewals, lines, item_ids, at
) -> None:
    """The whole first period of every line, collected by the patient at `pharmacy`; rows and
    receipt as dispensing.dispense writes them."""
    dispensation_id = uuid.uuid4().hex
    expiry = (at + PACK_EXPIRY).date()
    receipt_lines, totals = [], Counter()
    for line, ((template, quantity), item_id) in enumerate(zip(lines, item_ids, strict=True), 1):
        price = dispensing_rules.price_line(
            template.unit_price_cents,
            quantity,
            template.reimbursement_rate,
            template.content["ald"],
        )
        out["dispensation_lines"].append(
            {
                "id": item_id,
                "dispensation_id": dispensation_id,
                "item_id": item_id,
                "line": line,
                "period": 1,
                "cip13": template.cip13,
                "substituted": template.substituted,
                "quantity": price.quantity,
                "batch": f"B{prescription_id % 10_000:04d}",
                "expiry": expiry,
                "serial": None,
                "unit_price_cents": price.unit_price_cents,
                "total_cents": price.total_cents,
                "rate": price.rate,
                "covered_cents": price.covered_cents,
                "patient_share_cents": price.patient_share_cents,
            }
        )
        receipt_lines.append(
            {
                "line": line,
                "period": 1,
                "periods": 1 + renewals,
                "cip13": template.cip13,
                "label": template.label,
                "product": template.product_name,
                "substituted": template.substituted,
                "quantity": price.quantity,
                "batch": f"B{prescription_id % 10_000:04d}",
                "expiry": expiry.isoformat(),
                "unit_price_cents": price.unit_price_cents,
                "total_cents": price.total_cents,
                "reimbursement_rate": price.rate,
                "covered_cents": price.covered_cents,
                "patient_share_cents": price.patient_share_cents,
            }
        )
        totals.update(
            total=price.total_cents,
            covered=price.covered_cents,
            share=price.patient_share_cents,
        )
    receipt = {
        "type": receipts.RECEIPT_TYPE,
        "version": receipts.RECEIPT_VERSION,
        "id": dispensation_id,
        "issued_at": iso_seconds(at),
        "prescription": {
            "number": number,
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        },
        "pharmacy": {"finess": pharmacy.finess, "name": pharmacy.name},
        "pharmacist": {
            "family_name": pharmacy.family_name,
            "given_name": pharmacy.given_name,
            "rpps": None,
        },
        "collected_by": {"kind": "patient"},
        "lines": receipt_lines,
        "total_cents": totals["total"],
        "covered_cents": totals["covered"],
        "patient_share_cents": totals["share"],
    }
    receipt_payload = canonical_json(receipt)
    out["dispensations"].append(
        {
            "id": dispensation_id,
            "prescription_id": prescription_id,
            "pharmacy_id": pharmacy.id,
            "pharmacist_account_id": pharmacy.account_id,
            "dispensed_at": at,
            "collected_by_kind": "patient",
            "collected_by_national_id": None,
            "collected_by_name": None,
            "total_cents": totals["total"],
            "covered_cents": totals["covered"],
            "patient_share_cents": totals["share"],
            "payload": receipt_payload,
            "jws": context.service.sign(receipt_payload),
            "reversed_at": None,
            "reversed_by_account_id": None,
            "reversal_reason": None,
            "reversal_payload": None,
            "reversal_jws": None,
        }
    )


def _reset_sequences(session) -> None:
    """Move each id sequence past the ids given explicitly by the bulk rows."""
    for table in (
        "persons",
        "accounts",
        "prescribers",
        "pharmacies",
        "pharmacists",
        "prescriptions",
        "prescription_items",
        "dispensation_lines",
    ):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        )
    session.commit()


# -- audit ---------------------------------------------------------------------------------------

AUDIT_BATCH = 10_000  # events per audit.write call (and per commit)


def write_population_audit_events(url: str, events: list[tuple], sizes: Sizes) -> int:
    """The audit events of the population's past, through the audit API: "issue" by the
    prescriber for each prescription, "dispense" by the pharmacist for each dispensation,
    each chain (one per patient) in time order. The chains are disjoint, so they are split by
    patient over one process per CPU, each writing its share with audit.write.

    This is the one place that knows the audit API (services.audit.write, Event, Actor, being
    rewritten): if it is missing or has another shape, the events are skipped, said so, and the
    rest of the run goes on. Returns the number of events written.
    """
    try:
        from eprescription.services.audit import Actor, Event, write  # noqa: F401 (check first)

        actors = {}
        for index in range(sizes.prescribers):  # as audit.actor_for
            rpps = make_rpps(f"100012{index:04d}")
            actors[("prescriber", index)] = Actor(
                _prescriber_person_id(index), "prescriber", f"RPPS {rpps}"
            )
        for index in range(sizes.pharmacies):
            actors[("pharmacist", index + 1)] = Actor(
                _pharmacist_person_id(sizes, index),
                "pharmacist",
                f"Pharmacie {index} (FINESS {_finess(index)})",
            )
        workers = max(1, os.cpu_count() or 1)
        shares: list[list] = [[] for _ in range(workers)]
        for action, at, who, number, patient_id in sorted(events, key=lambda event: event[1]):
            actor = actors[("prescriber" if action == "issue" else "pharmacist", who)]
            shares[patient_id % workers].append((actor, action, number, patient_id, at))
        with _pool(workers) as pool:
            return sum(pool.map(_write_audit_share, [(url, share) for share in shares]))
    except (ImportError, AttributeError, TypeError) as error:
        log.warning("audit events skipped: %s: %s", type(error).__name__, error)
        print(f"audit events skipped: {type(error).__name__}: {error}", flush=True)
        return 0


def _write_audit_share(job: tuple[str, list]) -> int:
    """One process's share of the chains, written with audit.write on its own connection."""
    from eprescription.services.audit import Event, write

    url, share = job
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            for start in range(0, len(share), AUDIT_BATCH):
                write(
                    session,
                    [
                        Event(
                            actor=actor,
                            action=action,
                            object_type=OBJECT_TYPE,
                            object_id=number,
                            patient_person_id=patient_id,
                            outcome="success",
                            occurred_at=at,
                        )
                        for actor, action, number, patient_id, at in share[
                            start : start + AUDIT_BATCH
                        ]
                    ],
                )
                session.commit()
    finally:
        engine.dispose()
    return len(share)


# -- what the load uses --------------------------------------------------------------------------


def dispense_body(summary: _Summary) -> dict:
    """bench/dispense.py's dispense_body, for every line of the prescription."""
    expiry = (date.today() + timedelta(days=400)).isoformat()
    return {
        "code": summary.qr_text,
        "lines": [
            {"line": line, "cip13": cip13, "quantity": quantity, "batch": "B1", "expiry": expiry}
            for line, cip13, quantity in summary.lines
        ],
        "collected_by": {"kind": "patient"},
    }


def _pools(session, population: Population, context: _Context, summaries: list) -> None:
    """Tokens (issued by the service) and the request data of each operation."""
    sizes = context.sizes
    rng = random.Random(sizes.seed)
    active = Counter(summary.patient_index for summary in summaries if summary.open_today)
    readers = sorted(range(sizes.patients), key=lambda index: (abs(active[index] - 3), index))
    readers = readers[: min(PATIENT_READERS, sizes.patients)]
    population.counts["patient_reader_active_prescriptions"] = round(
        sum(active[index] for index in readers) / max(1, len(readers)), 2
    )

    def tokens(person_ids: list[int]) -> list[str]:
        found = session.scalars(select(Account).where(Account.id.in_(person_ids))).all()
        by_id = {account.id: account for account in found}
        with unit_of_work(session) as uow:
            return [
                accounts.issue_token(uow, by_id[person_id], TOKEN_LIFETIME)[0]
                for person_id in person_ids
            ]

    population.prescriber_tokens = tokens(
        [_prescriber_person_id(index) for index in range(sizes.prescribers)]
    )
    population.pharmacist_tokens = tokens(
        [_pharmacist_person_id(sizes, index) for index in range(sizes.pharmacies)]
    )
    population.patient_tokens = tokens([_patient_person_id(sizes, index) for index in readers])
    population.patient_nirs = [_patient_identity(index)[0] for index in range(sizes.patients)]
    population.issue_items = [
        [product.api_item, substance.api_item]
        for product in context.templates["product"]
        for substance in context.templates["substance"]
    ]
    untouched = [s for s in summaries if s.open_today and s.public and not s.dispensed]
    rng.shuffle(untouched)
    scan_share = min(len(untouched) // 4, SCAN_POOL_MAX)
    scannable = [s for s in summaries if s.open_today and s.dispensed] + untouched[:scan_share]
    rng.shuffle(scannable)
    population.scan_codes = [summary.qr_text for summary in scannable[:SCAN_POOL_MAX]]
    population.dispensable = [
        {"id": summary.number, "body": dispense_body(summary)} for summary in untouched[scan_share:]
    ]
    population.counts.update(
        scan_pool=len(population.scan_codes), dispense_pool=len(population.dispensable)
    )


def _self_check(session) -> None:
    """The service's own verification of one stored prescription and one receipt (signature,
    chain, validity at the signing time, payload byte for byte): the build stops if one fails."""
    documents = [
        (name, session.execute(select(model.jws, model.payload).limit(1)).first())
        for name, model in (("prescription", Prescription), ("receipt", Dispensation))
    ]
    with unit_of_work(session) as uow:
        for name, row in documents:
            if row is None:
                continue
            report = verification.verify_document(uow, row.jws, row.payload)
            if not report.valid:
                failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
                raise SystemExit(f"a {name} of the population does not verify: {failed}")
    log.info("self-check: the service verifies the population's signatures")


def _vacuum(url: str) -> None:
    """VACUUM ANALYZE: the statistics and visibility map of a database in its steady state."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()

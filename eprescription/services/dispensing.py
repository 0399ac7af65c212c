"""Dispensing use cases: scan, lookup by card, dispense (exactly once); each one unit of work,
audited. Rules in domain/dispensing.py; docs/dispensing.md says why."""

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import cast

from sqlalchemy import (
    BindParameter,
    CursorResult,
    Select,
    Table,
    bindparam,
    case,
    func,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from eprescription import qr
from eprescription.domain import dispensing as rules
from eprescription.domain import gs1, identifiers, signed_prescription
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    DomainError,
    InvalidGs1Code,
    InvalidIdentifier,
    PickupRefused,
    PrescriptionNotFound,
    ProductExpired,
    QuantityExceeded,
    SubstitutionRefused,
    ValidationFailed,
    VersionMismatch,
)
from eprescription.domain.prescriptions import OPEN_STATES, Problems
from eprescription.domain.signed_prescription import SignedLine, SignedPrescription
from eprescription.models import (
    CompositionLine,
    Dispensation,
    DispensationLine,
    Person,
    Prescription,
    PrescriptionItem,
    Presentation,
    Product,
)
from eprescription.services import (
    access,
    audit,
    counter,
    dispensations,
    health_space,
    idempotency,
    pki,
    prescriptions,
    signed_documents,
)
from eprescription.services.prescriptions import iso_seconds, today_of
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

RECEIPT_TYPE = signed_prescription.RECEIPT_TYPE
RECEIPT_VERSION = signed_prescription.VERSION
OBJECT_TYPE = counter.OBJECT_TYPE


# -- who and what -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What proves the right to redeem: the QR text, or the number with the patient's NIR
    (read from the card or typed) and, when a representative is at the counter, their own NIR
    (`presenter_nir`); plus the pharmacist's check of the identity of the person there."""

    qr_text: str | None = None
    number: str | None = None
    patient_nir: str | None = None
    identity_confirmed: bool = False
    presenter_nir: str | None = None


def _national_id(value: str | None, country: str, field: str) -> str:
    """The compact national identifier, or InvalidIdentifier with the error on `field`."""
    try:
        return identifiers.validate_national_id(value, country)
    except InvalidIdentifier as error:
        raise InvalidIdentifier(error.detail, errors={field: [error.detail]}) from error


def _presenter_nir(value: str | None, country: str) -> str | None:
    """The presenter's compact NIR if one is given; InvalidIdentifier on presenter_nir."""
    return None if value is None else _national_id(value, country, "presenter_nir")


def _find(
    uow: UnitOfWork, credentials: Credentials, action: access.Action, *, for_update: bool = False
) -> Prescription:
    """The prescription the credentials open for `action`, or PrescriptionNotFound (audited,
    kept): an unknown number, a wrong access code and a NIR that is not the patient's all get
    the same answer, so nothing tells which part was wrong. `for_update`: read under its row
    lock, with its dispensations, in one statement (what a dispensation decides on)."""
    if credentials.qr_text is not None:
        token = qr.decode(credentials.qr_text)
        number, proof = token.number, access.Proof(access_code=token.access_code)
    else:
        number = codes.validate_number(credentials.number)
        national_id = _national_id(credentials.patient_nir, uow.settings.country, "patient_nir")
        proof = access.Proof(patient_national_id=national_id)
    today = today_of(uow.now)
    load = signed_documents.DISPENSED_PARTS if for_update else signed_documents.PARTS
    return access.open_prescription(
        uow, number, action, today, proof=proof, load=load, for_update=for_update
    ).object


def _prescribed(line: SignedLine) -> rules.PrescribedLine:
    """What the substitution rules need of a line, as it is signed."""
    drug = line.content["medication"]
    return rules.PrescribedLine(
        cis=drug.get("cis"),
        substance_code=drug.get("substance_code"),
        strength=drug.get("strength"),
        form=drug.get("form"),
        substitutable=line.content["substitutable"],
        non_substitution_reason=line.content.get("non_substitution_reason"),
    )


# -- what the pharmacist sees -------------------------------------------------------------------


BINDING = "binding"
AGREES = "the stored prescription, its cancellations and receipts agree with the signed documents"


def _signature(found: SignedPrescription) -> dict:
    """The prescriber's signature check by check, then whether the row agrees with it."""
    checks = [{"name": name, "ok": ok, "detail": detail} for name, ok, detail in found.checks]
    binding = AGREES if found.verified else "; ".join(found.problems)
    checks.append({"name": BINDING, "ok": found.verified, "detail": binding})
    return {"valid": found.verified, "checks": checks}


def describe(found: SignedPrescription, today: date) -> dict:
    """The prescription as a pharmacist sees it: the verified signed content, progress per
    line from the verified receipts, the signature; only the number and why when the row
    does not agree with its signed documents."""
    if not found.verified:
        return {**prescriptions.describe_unverified(found), "signature": _signature(found)}
    content = found.signed_content
    status = found.status_on(today)
    lines = []
    for line in found.lines:
        signed, state = line.content, line.progress
        allowed, why = rules.substitution_policy(_prescribed(line))
        lines.append(
            {
                "line": line.line,
                "medication": signed["medication"],
                "dosage": signed["dosage"],
                "ald": signed["ald"],
                "status": "cancelled" if line.cancelled else "active",
                "quantity_per_period": state.quantity,
                "prescribed_total": state.total,
                "dispensed": state.dispensed,
                "remaining_total": state.remaining_total,
                "period": {
                    "current": state.current_period,
                    "of": state.periods,
                    "remaining": state.remaining_in_period,
                },
                "substitution": {
                    "allowed": allowed,
                    "reason": why,
                    "non_substitution_reason": signed.get("non_substitution_reason"),
                },
            }
        )
    return {
        "id": found.number,
        "number": codes.display_number(found.number),
        "verified": True,
        "status": str(status),
        "version": found.version,
        "issued_at": content["issued_at"],
        "valid_from": content["valid_from"],
        "valid_until": content["valid_until"],
        "valid_today": found.valid_from <= today <= found.valid_until,
        "renewals": content["renewals"],
        "pickup_mode": found.pickup_mode,  # in force: the one the counter applies
        "patient": content["patient"],
        "prescriber": content["prescriber"],
        "signature": _signature(found),
        "items": lines,
        "jws": found.jws,
    }


# -- scan ---------------------------------------------------------------------------------------


def scan(uow: UnitOfWork, credentials: Credentials) -> dict:
    """Open a prescription by its QR text (or number + NIR), verify its signature, refuse it
    when closed, and show what is left to dispense; audited."""
    counter.pharmacist_of(uow)
    presenter_nir = _presenter_nir(credentials.presenter_nir, uow.settings.country)
    prescription = _find(uow, credentials, access.Action.SCAN)
    today = today_of(uow.now)
    try:
        found = signed_documents.require(uow, prescription)
        if credentials.qr_text is None:
            _check_card(uow, found, prescription.patient, credentials, presenter_nir, today)
        rules.ensure_allowed("pharmacist", rules.Action.DISPENSE, found.status_on(today))
    except DomainError as error:
        counter.record_refusal(uow, prescription, "scan", error)
        raise
    uow.audit(
        "scan", OBJECT_TYPE, prescription.number, patient_person_id=prescription.patient_person_id
    )
    return describe(found, today)


def _check_card(
    uow: UnitOfWork, found: SignedPrescription, patient: Person, credentials, presenter_nir, today
) -> None:
    """Number + NIR open a prescription only for whom lookup by card would show it (by the
    pickup mode in force, as signed)."""
    presenter, _ = counter.presenter(uow, patient, presenter_nir, today)
    who = rules.at_counter(credentials.identity_confirmed, presenter)
    problem = rules.card_problem(found.pickup_mode, who)
    if problem:
        raise PickupRefused(f"This prescription is {found.pickup_mode}: {problem}.")


# -- lookup by card -----------------------------------------------------------------------------


def lookup_by_card(
    uow: UnitOfWork,
    nir: str,
    *,
    identity_confirmed: bool,
    presenter_nir: str | None = None,
) -> dict:
    """The patient's dispensable prescriptions, as when the pharmacy reads their card.

    Who is at the counter decides what is shown (domain SEEN_BY_CARD): the patient, identity
    confirmed, sees all; a representative (`presenter_nir`, identity confirmed, active today)
    public and authorised ones; anyone else public ones. The rest are counted, not shown.
    Each one shown is audited, and so is a presenter other than the patient (the representation,
    never the NIR).
    """
    session, country = uow.session, uow.settings.country
    counter.pharmacist_of(uow)
    national_id = _national_id(nir, country, "nir")
    presenter_nir = _presenter_nir(presenter_nir, country)
    today = today_of(uow.now)
    person = session.scalar(select(Person).where(Person.national_id == national_id))
    if person is None:
        uow.audit("lookup_by_card", "patient", outcome="not_found")
        return {"prescriptions": [], "withheld": 0}
    presenter, used = counter.presenter(uow, person, presenter_nir, today)
    who = rules.at_counter(identity_confirmed, presenter)
    if presenter != rules.PATIENT:
        _record_presenter(uow, person, used, who)
    rows = (
        session.scalars(
            select(Prescription)
            .where(Prescription.patient_person_id == person.id)
            .where(Prescription.status.in_([str(s) for s in OPEN_STATES]))
            .where(Prescription.valid_until >= today)
            .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
            .options(*signed_documents.PARTS)
        )
        .unique()
        .all()
    )
    checked = signed_documents.check(uow, rows)
    shown, withheld = [], 0
    for prescription in rows:
        found = checked[prescription.id]
        # One that cannot be verified is listed as such (its number, why): its mode is unknown.
        if found.verified and not rules.may_see_by_card(found.pickup_mode, who):
            withheld += 1
            continue
        shown.append(describe(found, today))
        uow.audit(
            "lookup_by_card",
            OBJECT_TYPE,
            prescription.number,
            patient_person_id=person.id,
            outcome=audit.SUCCESS if found.verified else "signature_invalid",
        )
    if not shown:
        uow.audit("lookup_by_card", "patient", patient_person_id=person.id, outcome="nothing_shown")
    return {"prescriptions": shown, "withheld": withheld}


def _record_presenter(uow: UnitOfWork, patient: Person, used, who: str) -> None:
    """Audit that someone else than the patient presented their card: the representation
    recognised (its id, never a NIR), or why none was."""
    if who == rules.REPRESENTATIVE:
        outcome = audit.SUCCESS
    else:
        outcome = "identity_not_confirmed" if used else "not_representative"
    uow.audit(
        "lookup_by_card",
        health_space.REPRESENTATIVE_OBJECT,
        str(used.id) if used else "",
        patient_person_id=patient.id,
        outcome=outcome,
    )


# -- dispense -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackLine:
    """One pack line as the pharmacist sends it: a CIP13 or a GS1 string, quantity, batch."""

    line: int
    quantity: int
    cip13: str | None = None
    gs1: str | None = None
    batch: str | None = None
    expiry: date | None = None
    serial: str | None = None
    unit_price_cents: int | None = None  # only for a pack the catalog has no price for


@dataclass(frozen=True)
class Collector:
    kind: str
    national_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class DispenseRequest:
    credentials: Credentials
    lines: list[PackLine]
    collected_by: Collector
    if_match: int | None = None


@dataclass
class _Pack:
    """A request line resolved against the catalog."""

    index: int
    request: PackLine
    cip13: str
    batch: str
    expiry: date
    serial: str | None


def _read_packs(problems: Problems, lines: list[PackLine]) -> list[_Pack]:
    """CIP13, batch, expiry and serial of each line, from the GS1 string or the fields."""
    packs = []
    for index, line in enumerate(lines):
        path = ("lines", index)
        cip13, batch, expiry, serial = line.cip13, line.batch, line.expiry, line.serial
        if line.gs1:
            try:
                code = gs1.parse(line.gs1)
            except InvalidGs1Code as error:
                problems.add((*path, "gs1"), error.detail)
                continue
            for name, typed, scanned in (
                ("cip13", cip13, code.cip13),
                ("batch", batch, code.batch),
                ("expiry", expiry, code.expiry),
                ("serial", serial, code.serial),
            ):
                if typed is not None and scanned is not None and typed != scanned:
                    problems.add((*path, name), "differs from the scanned GS1 code")
            cip13 = code.cip13
            batch = batch or code.batch
            expiry = expiry or code.expiry
            serial = serial or code.serial
        if not cip13:
            problems.add((*path, "cip13"), "give the CIP13 or the GS1 code of the pack")
        if not batch:
            problems.add((*path, "batch"), "the batch number is required")
        if expiry is None:
            problems.add((*path, "expiry"), "the pack's expiry date is required")
        if cip13 and batch and expiry is not None:
            packs.append(_Pack(index, line, cip13, batch, expiry, serial))
    return packs


@dataclass(frozen=True)
class _Catalog:
    """What the catalog says of the packs handed over and of the products prescribed."""

    presentations: dict[str, Presentation]  # by CIP13
    products: dict[str, Product]  # by CIS: the packs' and the prescribed ones
    packs: dict[str, rules.Pack]  # by CIP13, as the substitution rules take them

    def groups(self, cis: str | None) -> frozenset[int]:
        """The generic groups (CIS_GENER) of a product."""
        product = self.products.get(cis or "")
        if product is None:
            return frozenset()
        return frozenset(member.group_id for member in product.generic_memberships)


@cache
def _catalog_statement() -> Select:
    """_catalog's statement, built once (its loader criteria take milliseconds to build)."""
    cip13s: BindParameter[list[str]] = bindparam("cip13s", expanding=True)
    wanted = union_all(
        select(Presentation.cis).where(Presentation.cip13.in_(cip13s)),
        select(Product.cis).where(Product.cis.in_(bindparam("prescribed", expanding=True))),
    ).subquery()
    return (
        select(Product)
        .where(Product.cis.in_(select(wanted.c.cis)))
        .options(
            joinedload(Product.presentations.and_(Presentation.cip13.in_(cip13s))),
            joinedload(Product.compositions.and_(CompositionLine.nature == "SA")),
            joinedload(Product.generic_memberships),
        )
    )


def _catalog(uow: UnitOfWork, cip13s: set[str], prescribed: set[str]) -> _Catalog:
    """The presentations `cip13s` and the products `prescribed` (CIS), each product with its
    active substances and generic groups: one statement, whatever the number of lines. The
    products' `presentations` and `compositions` hold only what is asked here (loader
    criteria), which nothing else in a dispensation reads."""
    products = (
        uow.session.scalars(
            _catalog_statement(), {"cip13s": sorted(cip13s), "prescribed": sorted(prescribed)}
        )
        .unique()
        .all()
    )
    by_cis = {product.cis: product for product in products}
    presentations = {
        presentation.cip13: presentation
        for product in products
        for presentation in product.presentations
    }
    catalog = _Catalog(presentations, by_cis, {})
    for cip13, presentation in presentations.items():
        product = by_cis[presentation.cis]
        catalog.packs[cip13] = rules.Pack(
            cip13=cip13,
            cis=product.cis,
            form=product.form,
            substances=frozenset((c.substance_code, c.strength) for c in product.compositions),
            generic_groups=catalog.groups(product.cis),
        )
    return catalog


def _catalog_price(presentation: Presentation) -> int | None:
    """What a pack costs at the counter: the price with the dispensing fee when the BDPM has it."""
    if presentation.price_with_fees_cents is not None:
        return presentation.price_with_fees_cents
    return presentation.price_cents


def dispense(uow: UnitOfWork, number: str, request: DispenseRequest) -> Dispensation:
    """Record what leaves the pharmacy, exactly once, with a receipt signed by the service.

    Every check runs under the prescription's row lock, so concurrent dispensations are taken
    one after another and the sum never exceeds what the current period allows; the items'
    conditional UPDATE and the CHECK (dispensed ≤ total) back this up.
    """
    country = uow.settings.country
    pharmacist = counter.pharmacist_of(uow)
    collector = request.collected_by
    unidentified = rules.collector_identity_problem(
        collector.kind, collector.national_id, collector.name
    )
    if unidentified:
        raise ValidationFailed(
            f"Nothing was dispensed: {unidentified}.",
            errors={"collected_by": {"national_id": [unidentified]}},
        )
    if request.credentials.qr_text is None:
        number_given = codes.validate_number(number)
        request = DispenseRequest(
            Credentials(
                number=number_given,
                patient_nir=request.credentials.patient_nir,
                identity_confirmed=request.credentials.identity_confirmed,
                presenter_nir=_presenter_nir(request.credentials.presenter_nir, country),
            ),
            request.lines,
            request.collected_by,
            request.if_match,
        )
    else:
        token = qr.decode(request.credentials.qr_text)
        if token.number != codes.validate_number(number):
            raise PrescriptionNotFound(access.NO_MATCH)
    found = _find(uow, request.credentials, access.Action.DISPENSE, for_update=True)
    try:
        return _dispense_locked(uow, pharmacist, found, request)
    except DomainError as error:
        counter.record_refusal(uow, found, "dispense", error)
        raise


def _dispense_locked(
    uow: UnitOfWork, pharmacist, prescription: Prescription, request: DispenseRequest
) -> Dispensation:
    session, country = uow.session, uow.settings.country
    now = uow.now.replace(microsecond=0)
    if request.if_match is not None and request.if_match != prescription.version:
        raise VersionMismatch(
            f"The prescription is at version {prescription.version}, not {request.if_match}: "
            "scan it again before dispensing."
        )
    # Every decision below is taken on what the verified documents say.
    found = signed_documents.require(uow, prescription)
    today = today_of(now)
    status = found.status_on(today)
    rules.check_dispensable(status, found.valid_from, today)
    credentials, collector = request.credentials, request.collected_by
    collector_nir = _nir_or_none(collector.national_id, country)
    # With number + NIR, who is at the counter: the patient, or someone else (presenter_nir).
    presenter_nir = credentials.presenter_nir
    if presenter_nir == prescription.patient.national_id:
        presenter_nir = None
    if credentials.qr_text is None:
        _check_card(uow, found, prescription.patient, credentials, presenter_nir, today)
        mismatch = rules.collector_problem(presenter_nir, collector.kind, collector_nir)
        if mismatch:
            raise ValidationFailed(
                f"Nothing was dispensed: {mismatch}.",
                errors={"collected_by": {"national_id": [mismatch]}},
            )
    representative = counter.representation_of(
        uow, collector_nir, prescription.patient_person_id, today
    )
    problem = rules.pickup_problem(
        found.pickup_mode,
        collector.kind,
        # The identity checked is the patient's only when nobody else is at the counter.
        credentials.identity_confirmed and presenter_nir is None,
        representative_known=representative is not None,
    )
    if problem:
        raise PickupRefused(f"This prescription is {found.pickup_mode}: {problem}.")
    progress = {line.line: line.progress for line in found.lines}
    rules.check_quantities(
        progress.values(), [(line.line, line.quantity) for line in request.lines]
    )

    problems = Problems()
    packs = _read_packs(problems, request.lines)
    items = {item.line: item for item in prescription.items}
    lines = {line.line: line for line in found.lines}
    kinds: set[type] = set()
    priced = []
    prescribed_cis = {_prescribed(lines[pack.request.line]).cis for pack in packs}
    catalog = _catalog(uow, {pack.cip13 for pack in packs}, {cis for cis in prescribed_cis if cis})
    for pack in packs:
        path = ("lines", pack.index)
        item, prescribed = items[pack.request.line], _prescribed(lines[pack.request.line])
        presentation = catalog.presentations.get(pack.cip13)
        if presentation is None:
            problems.add((*path, "cip13"), f"no pack has the CIP13 {pack.cip13} in the catalog")
            continue
        decision = rules.check_pack(
            prescribed, catalog.packs[pack.cip13], catalog.groups(prescribed.cis)
        )
        if not decision.accepted:
            problems.add((*path, "cip13"), decision.reason)
            kinds.add(SubstitutionRefused)
            continue
        expired = rules.pack_expiry_problem(pack.expiry, today)
        if expired:
            problems.add((*path, "expiry"), expired)
            kinds.add(ProductExpired)
            continue
        unit = _catalog_price(presentation)
        if unit is None:
            unit = pack.request.unit_price_cents
        if unit is None:
            problems.add(
                (*path, "unit_price_cents"), "the catalog has no price for this pack: give it"
            )
            continue
        price = rules.price_line(
            unit,
            pack.request.quantity,
            presentation.reimbursement_rate,
            lines[item.line].content["ald"],
        )
        priced.append((pack, item, presentation, decision, price))
    if problems:
        kind = next(
            (k for k in (SubstitutionRefused, ProductExpired) if k in kinds), ValidationFailed
        )
        raise kind(
            "Nothing was dispensed: " + _first_messages(problems.errors), errors=problems.errors
        )

    dispensation = Dispensation(
        id=uuid.uuid4().hex,
        prescription_id=prescription.id,
        pharmacy=pharmacist.pharmacy,
        pharmacist_account_id=uow.require_account().id,
        dispensed_at=now,
        collected_by_kind=collector.kind,
        collected_by_national_id=collector.national_id,
        collected_by_name=collector.name,
        total_cents=sum(p[4].total_cents for p in priced),
        covered_cents=sum(p[4].covered_cents for p in priced),
        patient_share_cents=sum(p[4].patient_share_cents for p in priced),
        payload=b"",
        jws="",
    )
    receipt_lines = []
    for pack, item, presentation, decision, price in priced:
        period = progress[item.line].current_period
        dispensation.lines.append(
            DispensationLine(
                item_id=item.id,
                line=item.line,
                period=period,
                cip13=presentation.cip13,
                substituted=decision.substituted,
                quantity=price.quantity,
                batch=pack.batch,
                expiry=pack.expiry,
                serial=pack.serial,
                unit_price_cents=price.unit_price_cents,
                total_cents=price.total_cents,
                rate=price.rate,
                covered_cents=price.covered_cents,
                patient_share_cents=price.patient_share_cents,
            )
        )
        receipt_line = {
            "line": item.line,
            "period": period,
            "periods": progress[item.line].periods,
            "cip13": presentation.cip13,
            "label": presentation.label,
            "product": catalog.products[presentation.cis].name,
            "substituted": decision.substituted,
            "quantity": price.quantity,
            "batch": pack.batch,
            "expiry": pack.expiry.isoformat(),
            "unit_price_cents": price.unit_price_cents,
            "total_cents": price.total_cents,
            "reimbursement_rate": price.rate,
            "covered_cents": price.covered_cents,
            "patient_share_cents": price.patient_share_cents,
        }
        if pack.serial:
            receipt_line["serial"] = pack.serial
        receipt_lines.append(receipt_line)
    given = _summed(request.lines)
    after = rules.status_from_progress(
        replace(state, dispensed=state.dispensed + given.get(number, 0))
        for number, state in progress.items()
    )
    _record_given(
        uow,
        prescription,
        {items[line_number]: quantity for line_number, quantity in given.items()},
        str(rules.transition_for_dispensing(status, after)),
    )

    collected = {"kind": collector.kind}
    collected.update(
        {k: v for k, v in (("national_id", collector.national_id), ("name", collector.name)) if v}
    )
    pharmacy = pharmacist.pharmacy
    content = {
        "type": RECEIPT_TYPE,
        "version": RECEIPT_VERSION,
        "id": dispensation.id,
        "issued_at": iso_seconds(now),
        "prescription": {
            "number": prescription.number,
            "payload_sha256": hashlib.sha256(prescription.payload).hexdigest(),
        },
        "pharmacy": {"finess": pharmacy.finess, "name": pharmacy.name},
        "pharmacist": {
            "family_name": pharmacist.person.family_name,
            "given_name": pharmacist.person.given_name,
            "rpps": pharmacist.rpps,
        },
        "collected_by": collected,
        "lines": receipt_lines,
        "total_cents": dispensation.total_cents,
        "covered_cents": dispensation.covered_cents,
        "patient_share_cents": dispensation.patient_share_cents,
    }
    dispensation.payload = canonical_json(content)
    dispensation.jws = pki.sign_as_service(uow, dispensation.payload)
    session.add(dispensation)
    dispensation.prescription = prescription  # now among its loaded dispensations too
    uow.audit(
        "dispense",
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
    )
    session.flush()
    return dispensation


def _nir_or_none(value: str | None, country: str) -> str | None:
    """The compact national identifier a collector gave, or None if it is not one."""
    try:
        return identifiers.validate_national_id(value, country)
    except InvalidIdentifier:
        return None


def _summed(lines: list[PackLine]) -> dict[int, int]:
    total: dict[int, int] = {}
    for line in lines:
        total[line.line] = total.get(line.line, 0) + line.quantity
    return total


def _record_given(
    uow: UnitOfWork, prescription: Prescription, given: dict[PrescriptionItem, int], status: str
) -> None:
    """Add what was given to its lines and move the prescription to `status` and its next
    version: one statement on PostgreSQL (the lines' UPDATE in a WITH), two on SQLite.

    Each line's UPDATE is conditional: it changes nothing if the line's total would be
    exceeded (belt and braces with the lock and the CHECK constraint), and a line left
    unchanged refuses the whole dispensation."""
    session = uow.session
    items = cast(Table, PrescriptionItem.__table__)
    prescriptions_table = cast(Table, Prescription.__table__)
    quantity = case({item.id: amount for item, amount in given.items()}, value=items.c.id)
    lines = (
        update(items)
        .where(items.c.id.in_([item.id for item in given]))
        .where(items.c.dispensed_quantity + quantity <= items.c.quantity_total)
        .values(dispensed_quantity=items.c.dispensed_quantity + quantity)
    )
    version = prescription.version + 1  # under the row lock
    state = (
        update(prescriptions_table)
        .where(prescriptions_table.c.id == prescription.id)
        .values(status=status, version=version)
    )
    if session.get_bind().dialect.name == "postgresql":
        changed = lines.returning(items.c.id).cte("changed")
        counted = select(func.count()).select_from(changed).scalar_subquery()
        lines_changed = session.execute(state.returning(counted)).scalar_one()
    else:
        lines_changed = cast(CursorResult, session.execute(lines)).rowcount
        session.execute(state)
    if lines_changed != len(given):
        lines_given = ", ".join(str(item.line) for item in given)
        raise QuantityExceeded(f"Lines {lines_given}: this would go beyond what was prescribed.")
    for item, amount in given.items():
        set_committed_value(item, "dispensed_quantity", item.dispensed_quantity + amount)
    set_committed_value(prescription, "status", status)
    set_committed_value(prescription, "version", version)


def _first_messages(errors: dict) -> str:
    messages = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            messages.extend(str(m) for m in node)

    walk(errors)
    return "; ".join(messages[:3])


def dispense_once(
    uow: UnitOfWork,
    number: str,
    request: DispenseRequest,
    *,
    idempotency_key: str | None,
    scope: str,
    body: bytes,
    status: int,
    render: Callable[[dict], bytes],
) -> idempotency.StoredResponse:
    """dispense() behind an Idempotency-Key: a retry gets the first answer byte for byte, and
    the same key with another body is refused.

    The key is claimed first, in this unit of work: a concurrent call with the same key waits
    for this one to end, then replays its answer (or, when this one was refused and so rolled
    back, its claim with it, runs in its turn). `render` turns the dispensation's description
    into the response body, stored with the dispensation and the caller's `status`, so the
    answer and what it answers exist together.
    """
    if idempotency_key is not None:
        digest = idempotency.request_hash(body)
        stored = idempotency.claim(uow, scope, idempotency_key, digest)
        if stored is not None:
            return stored
    dispensation = dispense(uow, number, request)
    answer = idempotency.StoredResponse(status, render(dispensations.describe(dispensation)))
    if idempotency_key is not None:
        idempotency.store(uow, scope, idempotency_key, answer)
    return answer

"""Prescription use cases: issue, read, list, cancel, show the QR code; each in the caller's
unit of work."""

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import cast

from cryptography.exceptions import InvalidTag
from sqlalchemy import and_, func, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from eprescription import qr
from eprescription.domain import identifiers
from eprescription.domain import prescription_codes as codes
from eprescription.domain import prescriptions as rules
from eprescription.domain import signed_prescription as signed
from eprescription.domain.errors import (
    Conflict,
    DomainError,
    InvalidIdentifier,
    NotFound,
    PermissionDenied,
    SelfPrescriptionRefused,
    ValidationFailed,
)
from eprescription.domain.prescriptions import Action, ItemDraft, Problems, Status
from eprescription.domain.signed_prescription import SignedPrescription, iso_seconds
from eprescription.models import (
    CompositionLine,
    Person,
    Prescriber,
    Prescription,
    PrescriptionCancellation,
    PrescriptionItem,
    Product,
    Role,
)
from eprescription.services import (
    access,
    audit,
    pki,
    renewal_claims,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

PAYLOAD_TYPE = signed.PRESCRIPTION_TYPE
CANCELLATION_TYPE = signed.CANCELLATION_TYPE
PAYLOAD_VERSION = signed.VERSION
OBJECT_TYPE = "prescription"
IDENTIFIER_SYSTEMS = {identifiers.FRANCE: "NIR", identifiers.ESTONIA: "isikukood"}
PAGE_SIZE_MAX = 100
NUMBER_ATTEMPTS = 10


@dataclass(frozen=True)
class IssueRequest:
    """What a prescriber asks for; every value as typed, checked by issue()."""

    patient_nir: str | None
    pin: str
    items: list[ItemDraft]
    valid_from: date | None = None
    valid_until: date | None = None
    renewals: int | None = 0
    pickup_mode: str | None = rules.PickupMode.PUBLIC
    renewal_request_id: int | None = None  # the patient's request this prescription answers


@dataclass(frozen=True)
class Issued:
    """A new prescription, with its access code and QR text: shown once, never stored as such."""

    prescription: Prescription
    signed: SignedPrescription
    access_code: str
    qr_text: str


@dataclass(frozen=True)
class Page:
    items: list[SignedPrescription]  # each verified, or saying why it cannot be
    total: int
    page: int
    page_size: int
    today: date


def today_of(now: datetime) -> date:
    """The calendar day validity is counted in (UTC)."""
    return now.astimezone(UTC).date()


# -- issue ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A checked request: the content issue() signs (its number still unset) and its people."""

    prescriber: Prescriber
    patient: Person
    validity: rules.Validity
    pickup_mode: rules.PickupMode
    content: dict


def prepare(uow: UnitOfWork, request: IssueRequest) -> Draft:
    """Check every field of `request` and build the content to sign; changes nothing.

    Every problem is reported in one ValidationFailed. The review screen shows this content,
    and issue() signs it, so the two can never differ. Its time is `uow.now` to the second.
    """
    now = uow.now.replace(microsecond=0)
    country = uow.settings.country
    prescriber = prescriber_of(uow)
    problems = Problems()
    patient = _patient(uow, problems, request.patient_nir)
    is_self = patient is not None and patient.id == prescriber.person_id
    if is_self:
        problems.add(
            "patient_nir",
            "you cannot prescribe for yourself: another prescriber must issue this",
        )
    try:
        pickup_mode = rules.PickupMode(request.pickup_mode or rules.PickupMode.PUBLIC)
    except ValueError:
        problems.add("pickup_mode", "one of " + ", ".join(rules.PickupMode))
        pickup_mode = None
    validity = rules.validity(
        problems, today_of(now), request.valid_from, request.valid_until, request.renewals
    )
    rules.check_items(problems, request.items)
    medications = _medications(uow, problems, request.items)
    # Each value is None only where a problem was recorded.
    if (
        problems
        or patient is None
        or validity is None
        or pickup_mode is None
        or None in medications
    ):
        kind = SelfPrescriptionRefused if is_self else ValidationFailed
        raise kind(
            "Some fields are not valid: " + ", ".join(str(key) for key in problems.errors),
            errors=problems.errors,
        )
    content = _content(None, patient, prescriber, country, now, validity, pickup_mode)
    content["items"] = [
        _item_content(line, item, medication)
        for line, (item, medication) in enumerate(
            zip(request.items, cast(list[_Medication], medications), strict=True), 1
        )
    ]
    return Draft(prescriber, patient, validity, pickup_mode, content)


def issue(uow: UnitOfWork, request: IssueRequest) -> Issued:
    """Check everything, sign with the prescriber's PIN, store payload and JWS, audit.

    Every problem with the fields is reported in one ValidationFailed; nothing is stored then.
    A refused signature (a wrong PIN, which the PKI service counts towards blocking) is kept
    by the unit of work while the rest of the use case rolls back. The number is drawn at
    random and the statement that stores the row tells whether it was free (a taken one,
    about one draw in 10^7 with 100 million prescriptions, is drawn and signed again).
    """
    now = uow.now.replace(microsecond=0)
    draft = prepare(uow, request)
    prescriber, patient, validity = draft.prescriber, draft.patient, draft.validity
    renewal = renewal_claims.claim(uow, patient, request.renewal_request_id, today_of(now))
    for _ in range(NUMBER_ATTEMPTS):
        number, access_code = codes.new_number(), codes.new_access_code()
        content = {**draft.content, "number": number}
        payload = canonical_json(content)
        jws = _sign(uow, prescriber, request.pin, payload, "issue", number, patient.id)
        prescription = _stored_if_free(
            uow,
            number=number,
            patient_person_id=patient.id,
            prescriber_id=prescriber.id,
            issued_at=now,
            valid_from=validity.valid_from,
            valid_until=validity.valid_until,
            renewals=validity.renewals,
            pickup_mode=str(draft.pickup_mode),
            status=str(Status.ACTIVE),
            version=1,
            payload=payload,
            jws=jws,
            access_code_hash=codes.hash_access_code(access_code),
            access_code_sealed=codes.seal_access_code(
                access_code, number, uow.settings.key_encryption_key
            ),
        )
        if prescription is not None:
            break
    else:
        raise Conflict("Could not find a free prescription number; try again.")
    for name, value in (("patient", patient), ("prescriber", prescriber)):
        set_committed_value(prescription, name, value)
    for name in ("items", "cancellations"):
        set_committed_value(prescription, name, [])  # a new row has none: nothing to load
    for line, item in enumerate(content["items"], 1):
        prescription.items.append(_item_row(line, item))  # inserted at commit, one statement
    renewal_claims.fulfil(uow, renewal, prescription)
    uow.audit("issue", OBJECT_TYPE, number, patient_person_id=patient.id)
    return Issued(
        prescription,
        signed_documents.as_issued(prescription, content),
        access_code,
        qr.encode(number, access_code),
    )


def prescriber_of(uow: UnitOfWork) -> Prescriber:
    """The acting account's prescriber, or PermissionDenied."""
    account = uow.account
    prescriber = None
    if account is not None and account.role is Role.PRESCRIBER and account.person is not None:
        prescriber = account.person.prescriber  # loaded with the caller (services/accounts.py)
    if prescriber is None:
        raise PermissionDenied("Only a prescriber can do this.")
    return prescriber


def _patient(uow: UnitOfWork, problems: Problems, nir: str | None):
    """The recorded person with this national identifier; unknown persons are refused."""
    try:
        national_id = identifiers.validate_national_id(nir, uow.settings.country)
    except InvalidIdentifier as error:
        problems.add("patient_nir", error.detail)
        return None
    patient = uow.session.scalar(select(Person).where(Person.national_id == national_id))
    if patient is None:
        problems.add(
            "patient_nir",
            "no patient is recorded with this national identifier; check it with the patient's "
            "card, or have the patient registered first",
        )
    return patient


@dataclass(frozen=True)
class _Medication:
    """What the catalog says about a line's medication (name, and the substance's details)."""

    name: str
    cis: str | None = None
    substance_code: str | None = None
    strength: str | None = None
    form: str | None = None


def _by_cis(item: ItemDraft) -> bool:
    return bool(item.cis and item.cis.isdigit() and len(item.cis) == 8)


def _by_substance(item: ItemDraft) -> bool:
    return not item.cis and bool(item.substance_code and item.strength and item.form)


def _medications(
    uow: UnitOfWork, problems: Problems, items: list[ItemDraft]
) -> list[_Medication | None]:
    """The catalog's product or substance for each line (None with the problem added), all
    lines read in one statement: the products asked for by CIS, and those containing a
    substance asked for, with that substance's composition line."""
    wanted_cis = sorted({item.cis or "" for item in items if _by_cis(item)})
    codes = sorted(
        {rules.normalise_text(item.substance_code) for item in items if _by_substance(item)}
    )
    products: dict[str, Product] = {}
    containing: dict[str, list[tuple[CompositionLine, Product]]] = {}
    if wanted_cis or codes:
        wanted = union_all(
            select(Product.cis).where(Product.cis.in_(wanted_cis)),
            select(CompositionLine.cis).where(CompositionLine.substance_code.in_(codes)),
        ).subquery()
        rows = uow.session.execute(
            select(Product, CompositionLine)
            .outerjoin(
                CompositionLine,
                and_(
                    CompositionLine.cis == Product.cis,
                    CompositionLine.substance_code.in_(codes),
                ),
            )
            .where(Product.cis.in_(select(wanted.c.cis)))
            .order_by(Product.cis, CompositionLine.id)
        ).all()
        for product, composition in rows:
            products[product.cis] = product
            if composition is not None:
                containing.setdefault(composition.substance_code, []).append((composition, product))
    return [
        _medication(problems, index, item, products, containing) for index, item in enumerate(items)
    ]


def _medication(
    problems: Problems,
    index: int,
    item: ItemDraft,
    products: dict[str, Product],
    containing: dict[str, list[tuple[CompositionLine, Product]]],
) -> _Medication | None:
    """A line's product or substance from what _medications read, or None with the problem."""
    path = ("items", index)
    if _by_cis(item):
        product = products.get(item.cis or "")
        if product is None:
            problems.add((*path, "cis"), f"no product has the CIS {item.cis} in the catalog")
            return None
        if not product.is_prescribable:
            problems.add(
                (*path, "cis"),
                f"{product.name} is withdrawn or not authorised: it cannot be prescribed",
            )
            return None
        return _Medication(name=product.name, cis=product.cis)
    if not _by_substance(item):
        return None  # the domain rules have reported it
    code = rules.normalise_text(item.substance_code)
    rows = containing.get(code, [])
    if not rows:
        problems.add((*path, "substance_code"), f"no substance has the code {code} in the catalog")
        return None
    strength, form = rules.normalise_text(item.strength), rules.normalise_text(item.form)
    for composition, product in rows:
        if (
            product.is_prescribable
            and rules.normalise_text(composition.strength).casefold() == strength.casefold()
            and rules.normalise_text(product.form).casefold() == form.casefold()
        ):
            return _Medication(
                name=composition.substance_name,
                substance_code=code,
                strength=rules.normalise_text(composition.strength),
                form=rules.normalise_text(product.form),
            )
    problems.add(
        (*path, "medication"),
        f"no prescribable product contains {rows[0][0].substance_name} at {strength} as {form}",
    )
    return None


def _stored_if_free(uow: UnitOfWork, **columns) -> Prescription | None:
    """The new prescription row, or None when its number (or access code) is taken already:
    INSERT … ON CONFLICT DO NOTHING RETURNING, so the unique indexes answer in the statement
    that stores it (a concurrent insert of the same number is waited for)."""
    postgres = uow.session.get_bind().dialect.name == "postgresql"
    statement = (postgresql.insert if postgres else sqlite.insert)(Prescription).values(**columns)
    return uow.session.scalars(
        statement.on_conflict_do_nothing().returning(Prescription)
    ).one_or_none()


def _content(number, patient, prescriber, country, now, validity, pickup_mode) -> dict:
    """The signed content (items added by the caller); only JSON types, dates as strings."""
    return {
        "type": PAYLOAD_TYPE,
        "version": PAYLOAD_VERSION,
        "number": number,
        "patient": {
            "identifier": {
                "system": IDENTIFIER_SYSTEMS.get(country, country),
                "value": patient.national_id,
            },
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        },
        "prescriber": {
            "rpps": prescriber.rpps,
            "family_name": prescriber.person.family_name,
            "given_name": prescriber.person.given_name,
        },
        "issued_at": iso_seconds(now),
        "valid_from": validity.valid_from.isoformat(),
        "valid_until": validity.valid_until.isoformat(),
        "renewals": validity.renewals,
        "pickup_mode": str(pickup_mode),
    }


def _item_content(line: int, item: ItemDraft, medication: _Medication) -> dict:
    drug: dict[str, str | None]
    if medication.cis:
        drug = {"type": "product", "cis": medication.cis, "name": medication.name}
    else:
        drug = {
            "type": "substance",
            "substance_code": medication.substance_code,
            "name": medication.name,
            "strength": medication.strength,
            "form": medication.form,
        }
    # Present: check_items refused a missing one.
    dosage: dict[str, str | int] = {"text": (item.dosage_text or "").strip()}
    structured = {
        "dose": rules.dose_text(item.dose),
        "dose_unit": (item.dose_unit or "").strip() or None,
        "frequency_per_day": item.frequency_per_day,
        "duration_days": item.duration_days,
    }
    dosage.update({key: value for key, value in structured.items() if value is not None})
    content = {
        "line": line,
        "medication": drug,
        "dosage": dosage,
        "quantity": item.quantity,
        "substitutable": item.substitutable,
        "ald": item.ald,
    }
    if not item.substitutable:
        content["non_substitution_reason"] = item.non_substitution_reason
    return content


def _item_row(line: int, content: dict) -> PrescriptionItem:
    drug, dosage = content["medication"], content["dosage"]
    return PrescriptionItem(
        line=line,
        cis=drug.get("cis"),
        substance_code=drug.get("substance_code"),
        strength=drug.get("strength"),
        form=drug.get("form"),
        medication_name=drug["name"],
        dosage_text=dosage["text"],
        dose=dosage.get("dose"),
        dose_unit=dosage.get("dose_unit"),
        frequency_per_day=dosage.get("frequency_per_day"),
        duration_days=dosage.get("duration_days"),
        quantity=content["quantity"],
        substitutable=content["substitutable"],
        non_substitution_reason=content.get("non_substitution_reason"),
        ald=content["ald"],
        dispensed_quantity=0,
    )


def _sign(uow: UnitOfWork, prescriber, pin, payload, action, number, patient_id) -> str:
    """The prescriber's JWS over `payload`; a refusal is recorded (kept), then raised."""
    try:
        return pki.sign_as_prescriber(uow, prescriber, pin, payload)
    except DomainError as error:
        uow.refuse(action, OBJECT_TYPE, number, patient_person_id=patient_id, outcome=error.code)
        raise


# -- read -------------------------------------------------------------------------------------


def _load(uow: UnitOfWork, number: str) -> Prescription | None:
    return (
        uow.session.scalars(
            select(Prescription)
            .where(Prescription.number == number)
            .options(*signed_documents.PARTS)
        )
        .unique()
        .one_or_none()
    )


def get(uow: UnitOfWork, number: str) -> SignedPrescription:
    """A prescription for its prescriber, its patient or a person representing the patient today
    (anybody else: NotFound), as its verified signed documents say (SignatureInvalid when the
    row disagrees with them); audited, a representative's read as such."""
    opened = access.open_prescription(uow, number, access.Action.READ, today_of(uow.now))
    prescription = opened.object
    found = signed_documents.require(uow, prescription, "read")
    uow.audit(
        "read",
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
        actor=access.audit_actor(uow, opened.relation),
    )
    return found


def list_for_prescriber(
    uow: UnitOfWork,
    *,
    patient_nir: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page:
    """The prescriptions the account's prescriber issued, newest first; each listed is audited."""
    session = uow.session
    prescriber = prescriber_of(uow)
    today = today_of(uow.now)
    problems = Problems()
    conditions = [Prescription.prescriber_id == prescriber.id]
    if patient_nir:
        try:
            national_id = identifiers.validate_national_id(patient_nir, uow.settings.country)
        except InvalidIdentifier as error:
            problems.add("patient", error.detail)
        else:
            conditions.append(
                Prescription.patient_person_id.in_(
                    select(Person.id).where(Person.national_id == national_id)
                )
            )
    if status:
        try:
            conditions.append(_status_condition(Status(status), today))
        except ValueError:
            problems.add("status", "one of " + ", ".join(Status))
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        problems.add("page_size", f"between 1 and {PAGE_SIZE_MAX}")
    if page < 1:
        problems.add("page", "at least 1")
    if problems:
        raise ValidationFailed(
            "Some fields are not valid: " + ", ".join(problems.errors), errors=problems.errors
        )
    total = session.scalar(select(func.count(Prescription.id)).where(*conditions)) or 0
    rows = (
        session.scalars(
            select(Prescription)
            .where(*conditions)
            .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
            .options(*signed_documents.PARTS)
        )
        .unique()
        .all()
    )
    for prescription in rows:
        uow.audit(
            "list",
            OBJECT_TYPE,
            prescription.number,
            patient_person_id=prescription.patient_person_id,
        )
    checked = signed_documents.check(uow, rows)
    return Page([checked[row.id] for row in rows], total, page, page_size, today)


def _status_condition(status: Status, today: date):
    open_states = [str(s) for s in rules.OPEN_STATES]
    if status is Status.EXPIRED:
        return or_(
            Prescription.status == str(Status.EXPIRED),
            and_(Prescription.status.in_(open_states), Prescription.valid_until < today),
        )
    if status in rules.OPEN_STATES:
        return and_(Prescription.status == str(status), Prescription.valid_until >= today)
    return Prescription.status == str(status)


# -- cancel -----------------------------------------------------------------------------------


def cancel(
    uow: UnitOfWork,
    number: str,
    *,
    pin: str,
    reason: str | None,
    lines: list[int] | None = None,
) -> SignedPrescription:
    """Cancel the whole prescription or some lines, nothing dispensed; signed with the PIN.
    What is dispensed and cancelled already is what the verified documents say."""
    session = uow.session
    now = uow.now.replace(microsecond=0)
    prescription = access.open_prescription(uow, number, access.Action.CANCEL, today_of(now)).object
    problems = Problems()
    reason = rules.check_reason(problems, reason)
    if problems:
        raise ValidationFailed("Say why it is cancelled.", errors=problems.errors)
    before = signed_documents.require(uow, prescription, "cancel")
    current = before.status_on(today_of(now))
    states = [_line_state(line) for line in before.lines]
    chosen = rules.lines_to_cancel(current, states, lines)
    prescriber = prescription.prescriber
    document = {
        "type": CANCELLATION_TYPE,
        "version": PAYLOAD_VERSION,
        "prescription": {
            "number": prescription.number,
            "payload_sha256": hashlib.sha256(prescription.payload).hexdigest(),
        },
        "lines": chosen,
        "reason": reason,
        "cancelled_at": iso_seconds(now),
        "prescriber": {
            "rpps": prescriber.rpps,
            "family_name": prescriber.person.family_name,
            "given_name": prescriber.person.given_name,
        },
    }
    payload = canonical_json(document)
    jws = _sign(
        uow,
        prescriber,
        pin,
        payload,
        "cancel",
        prescription.number,
        prescription.patient_person_id,
    )
    cancellation = PrescriptionCancellation(
        prescription=prescription,
        account_id=uow.require_account().id,
        cancelled_at=now,
        reason=reason,
        payload=payload,
        jws=jws,
    )
    session.add(cancellation)
    session.flush()
    for item in prescription.items:
        if item.line in chosen:
            item.cancellation_id = cancellation.id
    after = rules.status_from_lines(
        replace(_line_state(line), cancelled=line.cancelled or line.line in chosen)
        for line in before.lines
    )
    if after != current:
        prescription.status = str(rules.transition(current, after))
    prescription.version += 1
    uow.audit(
        "cancel", OBJECT_TYPE, prescription.number, patient_person_id=prescription.patient_person_id
    )
    return signed_documents.check_one(uow, prescription)


def _line_state(line: signed.SignedLine) -> rules.LineState:
    return rules.LineState(line.line, line.total, line.dispensed, line.cancelled)


# -- QR and verification --------------------------------------------------------------------


def qr_text(uow: UnitOfWork, number: str) -> str:
    """The QR text of a prescription, for its patient and its prescriber; audited.

    The access code is opened from its sealed copy and checked against the stored hash, the
    only form any verification uses.
    """
    today = today_of(uow.now)
    opened = access.open_prescription(uow, number, access.Action.VIEW_QR, today)
    prescription = opened.object
    status = signed_documents.require(uow, prescription, "view_qr").status_on(today)
    rules.ensure_allowed(opened.relation, Action.VIEW_QR, status)
    text = open_qr_text(prescription, uow.settings.key_encryption_key)
    uow.audit(
        "view_qr",
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
    )
    return text


@dataclass(frozen=True)
class Stored:
    """A stored prescription for the operator's verify command: its JWS and stored payload,
    and the whole row checked against its signed documents."""

    jws: str
    payload: bytes
    signed: SignedPrescription


def signed_document(uow: UnitOfWork, number: str) -> Stored:
    """The stored prescription numbered `number`, checked, for the operator's verify command."""
    number = codes.validate_number(number)
    prescription = _load(uow, number)
    if prescription is None:
        raise NotFound(f"No prescription has the number {codes.display_number(number)}.")
    uow.audit(
        "verify",
        OBJECT_TYPE,
        number,
        patient_person_id=prescription.patient_person_id,
        actor=audit.OPERATOR,
    )
    found = signed_documents.check_one(uow, prescription)
    return Stored(prescription.jws, prescription.payload, found)


# -- what callers show ------------------------------------------------------------------------


def describe_unverified(found: SignedPrescription) -> dict:
    """What every face shows of a prescription that cannot be verified: its number and why;
    none of its content, which nothing vouches for."""
    return {
        "id": found.number,
        "number": codes.display_number(found.number),
        "verified": False,
        "verification_problems": list(found.problems),
        "items": [],  # (a dict's own `items` must not stand in for the key)
    }


def describe(found: SignedPrescription, today: date) -> dict:
    """The prescription as its prescriber and patient see it: the verified signed content, what
    the verified receipts and cancellations say of each line, and its state."""
    if not found.verified:
        return describe_unverified(found)
    content = found.signed_content
    status = found.status_on(today)
    items = [
        {
            **line.content,
            "non_substitution_reason": line.content.get("non_substitution_reason"),
            "status": "cancelled" if line.cancelled else "active",
            "dispensed_quantity": line.dispensed,
            "cancellable": rules.line_cancellable(status, _line_state(line)),
        }
        for line in found.lines
    ]
    return {
        "id": found.number,
        "number": codes.display_number(found.number),
        "verified": True,
        "status": str(status),
        "cancellable": rules.cancellable(status, map(_line_state, found.lines)),
        "version": found.version,
        "issued_at": content["issued_at"],
        "valid_from": content["valid_from"],
        "valid_until": content["valid_until"],
        "renewals": content["renewals"],
        "pickup_mode": content["pickup_mode"],
        "patient": content["patient"],
        "prescriber": content["prescriber"],
        "items": items,
        "cancellations": [
            {
                "cancelled_at": cancellation.cancelled_at,
                "reason": cancellation.reason,
                "lines": list(cancellation.lines),
                "jws": cancellation.jws,
            }
            for cancellation in found.cancellations
        ],
        "jws": found.jws,
    }


def open_qr_text(prescription: Prescription, sealing_secret: str | bytes) -> str:
    """The QR text of a prescription the caller has already been allowed to see (no audit here).

    For other use cases (the health space) that check access their own way; qr_text above
    is the prescriber's and patient's audited path. The access code is opened from its sealed
    copy and checked against the stored hash, the only form any verification uses.
    """
    try:
        code = codes.open_access_code(
            prescription.access_code_sealed, prescription.number, sealing_secret
        )
    except InvalidTag as error:
        raise Conflict(
            "The QR code of this prescription cannot be shown again (the server secret changed); "
            "use its number."
        ) from error
    if not codes.access_code_matches(code, prescription.access_code_hash):
        raise Conflict("The QR code of this prescription cannot be shown again; use its number.")
    return qr.encode(prescription.number, code)

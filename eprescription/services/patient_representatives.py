"""Representatives: named and ended by the patient; a parent recorded, any ended, by an admin."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import selectinload

from eprescription.domain import health_space as rules
from eprescription.domain.errors import (
    NotFound,
    PermissionDenied,
)
from eprescription.domain.health_space import RepresentativeKind
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import Problems, today_of
from eprescription.models import (
    Person,
    Representative,
)
from eprescription.services import patient_account, persons, representation
from eprescription.services.uow import UnitOfWork

REPRESENTATIVE_OBJECT = "representative"
NO_SUCH_PERSON = Message(
    "no_such_person",
    "no person with this national identifier and this family name is recorded; check both "
    "on their card (the person needs to be registered with the service)",
)


@dataclass(frozen=True)
class RepresentativeView:
    """A representation as shown: the other person's name (never their identifier)."""

    id: int
    name: str
    kind: str
    valid_until: date | None
    created_at: datetime
    revoked_at: datetime | None
    active: bool
    revocable: bool


@dataclass(frozen=True)
class Representatives:
    named: list[RepresentativeView]  # whom this patient named (ongoing first), revoked ones kept
    represented: list[RepresentativeView]  # the people this account may act for, now


def overview(uow: UnitOfWork) -> Representatives:
    """Whom the patient named (ongoing first, then ended), and whom the account represents."""
    person_id = patient_account.patient_person_id(uow.account)
    today = today_of(uow.now)
    named = uow.session.scalars(
        select(Representative)
        .where(Representative.patient_person_id == person_id)
        .order_by(Representative.created_at.desc(), Representative.id.desc())
        .options(selectinload(Representative.representative))
    ).all()
    named_views = sorted(
        (representative_view(row, today, row.representative) for row in named),
        key=lambda view: not view.active,
    )
    represented = [
        representative_view(row, today, row.patient)
        for row in representation.represented(uow, person_id, today).values()
    ]
    return Representatives(named_views, represented)


def representative_view(row: Representative, today: date, person: Person) -> RepresentativeView:
    """A representation as shown to `person`'s counterpart."""
    return RepresentativeView(
        id=row.id,
        name=person.full_name,
        kind=row.kind,
        valid_until=row.valid_until,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        active=row.is_active_on(today),
        revocable=row.kind == RepresentativeKind.AUTHORISED and row.revoked_at is None,
    )


def add_representative(
    uow: UnitOfWork,
    *,
    nir: str | None,
    family_name: str | None,
    valid_until: date | None = None,
) -> RepresentativeView:
    """Name a recorded person (national identifier and family name, both as on their card) who
    may see and collect the patient's prescriptions, until `valid_until` if given.

    Both must match: the identifier alone would let anyone learn who holds a number.
    """
    person_id = patient_account.patient_person_id(uow.account)
    today = today_of(uow.now)
    problems = Problems()
    representative = _named_person(uow, problems, nir, family_name)
    rules.check_representative(
        problems,
        patient_person_id=person_id,
        representative_person_id=representative.id if representative else None,
        valid_until=valid_until,
        today=today,
    )
    if problems or representative is None:  # None only when a problem was recorded
        raise problems.refusal()
    row = _grant(
        uow,
        Representative(
            patient_person_id=person_id,
            representative=representative,
            kind=str(RepresentativeKind.AUTHORISED),
            valid_until=valid_until,
            created_at=uow.now,
            created_by_account_id=uow.require_account().id,
        ),
        today,
    )
    return representative_view(row, today, representative)


def _grant(uow: UnitOfWork, row: Representative, today: date) -> Representative:
    """Store a new representation, audited; a duplicate refused, a lapsed one closed first."""
    _end_lapsed_or_refuse(uow, row.patient_person_id, row.representative.id, today)
    uow.session.add(row)
    uow.session.flush()
    uow.audit("grant", REPRESENTATIVE_OBJECT, str(row.id), patient_person_id=row.patient_person_id)
    return row


def _named_person(uow: UnitOfWork, problems, nir, family_name) -> Person | None:
    person = persons.by_national_id(uow, problems, "nir", nir, None)
    if "nir" in problems.errors:
        return None
    typed = " ".join((family_name or "").split()).casefold()
    if not typed:
        problems.add(
            "family_name",
            Message("family_name_required", "the family name is required, as on their card"),
        )
        return None
    if person is None or person.family_name.casefold() != typed:
        problems.add("nir", NO_SUCH_PERSON)
        return None
    return person


def _end_lapsed_or_refuse(
    uow: UnitOfWork, patient_id: int, representative_id: int, today: date
) -> None:
    """Refuse a duplicate; an ongoing row past its end date is closed so a new one can start."""
    ongoing = uow.session.scalar(
        select(Representative).where(
            Representative.patient_person_id == patient_id,
            Representative.representative_person_id == representative_id,
            Representative.revoked_at.is_(None),
        )
    )
    if ongoing is None:
        return
    rules.refuse_duplicate(ongoing.is_active_on(today))
    ongoing.revoked_at = uow.now
    uow.session.flush()


def revoke_representative(uow: UnitOfWork, representative_id: int) -> RepresentativeView:
    """End a representation the patient made, at once (their next request is refused)."""
    person_id = patient_account.patient_person_id(uow.account)
    row = uow.session.get(Representative, representative_id)
    if row is None or row.patient_person_id != person_id:
        raise NotFound(Message("no_such_representative", "You named no such representative."))
    if row.kind != RepresentativeKind.AUTHORISED:
        raise PermissionDenied(
            Message(
                "parent_by_administrator",
                "A parent's access was recorded by an administrator: ask them to end it.",
            )
        )
    if row.revoked_at is None:
        row.revoked_at = uow.now
        row.revoked_by_account_id = uow.require_account().id
        uow.audit("revoke", REPRESENTATIVE_OBJECT, str(row.id), patient_person_id=person_id)
    return representative_view(row, today_of(uow.now), row.representative)


def record_parent(
    uow: UnitOfWork,
    *,
    child_nir: str,
    parent_nir: str,
    valid_until: date | None = None,
) -> Representative:
    """An administrator records a parent of a minor (at the command line, after checking the
    family record book or a court decision): until the child's 18th birthday unless earlier."""
    today = today_of(uow.now)
    problems = Problems()
    child, parent = (
        persons.by_national_id(uow, problems, field, value, persons.UNKNOWN)
        for field, value in (("child_nir", child_nir), ("parent_nir", parent_nir))
    )
    if child is not None and not rules.is_minor(child.birth_date, today):
        problems.add("child_nir", "this person is not a minor (18 or older, or no birth date)")
    if child is not None and parent is not None and child.id == parent.id:
        problems.add("parent_nir", "the parent and the child are the same person")
    if child is not None and child.birth_date is not None:
        last_day = rules.coming_of_age(child.birth_date) - timedelta(days=1)
        if valid_until is not None and valid_until > last_day:
            problems.add("valid_until", f"a parent's access ends by the 18th birthday ({last_day})")
        valid_until = valid_until or last_day
    if valid_until is not None and valid_until < today:
        problems.add("valid_until", Message("end_date_past", "the end date is in the past"))
    if problems or child is None or parent is None:  # None only when a problem was recorded
        raise problems.refusal()
    return _grant(
        uow,
        Representative(
            patient_person_id=child.id,
            patient=child,
            representative=parent,
            kind=str(RepresentativeKind.PARENT),
            valid_until=valid_until,
            created_at=uow.now,
        ),
        today,
    )


def end_by_administrator(uow: UnitOfWork, representative_id: int) -> Representative:
    """An administrator ends any representation (a parent's included), at once."""
    row = uow.session.get(Representative, representative_id)
    if row is None:
        raise NotFound(f"No representation has the id {representative_id}.")
    if row.revoked_at is None:
        row.revoked_at = uow.now
        uow.audit(
            "revoke", REPRESENTATIVE_OBJECT, str(row.id), patient_person_id=row.patient_person_id
        )
    return row

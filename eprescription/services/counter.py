"""What dispensing and reversal share: the pharmacist at the counter, who presents the card,
the prescription under its row lock, and refusals kept whatever the use case then rolls back
(each line's progress is the verified one: services/signed_documents.py)."""

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from eprescription.domain import dispensing as rules
from eprescription.domain.errors import DomainError, PermissionDenied
from eprescription.models import (
    Person,
    Pharmacist,
    Prescription,
    Representative,
    Role,
)
from eprescription.services import representation
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "prescription"


def pharmacist_of(uow: UnitOfWork) -> Pharmacist:
    """The pharmacist (and so the pharmacy) behind the acting account, or PermissionDenied."""
    account, pharmacist = uow.account, None
    if account is not None and account.role is Role.PHARMACIST and account.person is not None:
        pharmacist = account.person.pharmacist  # loaded with the caller (services/accounts.py)
    if pharmacist is None:
        raise PermissionDenied("Only a pharmacist of a pharmacy can do this.")
    return pharmacist


def representation_of(
    uow: UnitOfWork, national_id: str | None, patient_person_id: int, today: date
) -> Representative | None:
    """The representation in force today of the patient by the person with this identifier."""
    if not national_id:
        return None
    person_id = uow.session.scalar(select(Person.id).where(Person.national_id == national_id))
    if person_id is None:
        return None
    return representation.represented(uow, person_id, today).get(patient_person_id)


def presenter(
    uow: UnitOfWork, patient: Person, presenter_nir: str | None, today: date
) -> tuple[str, Representative | None]:
    """Who says they are at the counter: the patient (nobody else named, or the patient's own
    NIR), an active representative of theirs (with the representation), or anyone else."""
    if presenter_nir is None or presenter_nir == patient.national_id:
        return rules.PATIENT, None
    used = representation_of(uow, presenter_nir, patient.id, today)
    return (rules.ANYONE if used is None else rules.REPRESENTATIVE), used


def lock(uow: UnitOfWork, *where) -> None:
    """Take the row lock of the prescriptions matching `where`, held until the use case ends;
    read them after it, in a statement of their own (with populate_existing).

    A statement sees the database as it was when it began: a read that waited for the lock
    would get the locked row as the other transaction left it but the other tables (lines,
    dispensations) as they were before (PostgreSQL, READ COMMITTED), a row that disagrees with
    its receipts. So the lock is a statement alone: PostgreSQL SELECT … FOR UPDATE; SQLite has
    no row locks and reads outside a transaction, so there a no-op UPDATE takes the database's
    write lock, and from there on no other writer can change anything.
    """
    session = uow.session
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Prescription).where(*where).values(version=Prescription.version))
    else:
        session.execute(select(Prescription.id).where(*where).with_for_update())


def lock_prescription(uow: UnitOfWork, prescription_id: int) -> Prescription:
    """The prescription and its items, read again under its lock (lock)."""
    lock(uow, Prescription.id == prescription_id)
    return (
        uow.session.scalars(
            select(Prescription)
            .where(Prescription.id == prescription_id)
            .options(joinedload(Prescription.items))
            .execution_options(populate_existing=True)
        )
        .unique()
        .one()
    )


def record_refusal(
    uow: UnitOfWork, prescription: Prescription, action: str, error: DomainError
) -> None:
    """Record the refusal of `action` on the prescription: kept when the use case, which
    raises `error` next, is rolled back."""
    uow.refuse(
        action,
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
        outcome=error.code,
    )

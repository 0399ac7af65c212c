"""What dispensing and reversal share: the pharmacist at the counter, who presents the card,
the prescription under its row lock, its progress per line, and refusals kept whatever the
use case then rolls back."""

from datetime import date

from sqlalchemy import select, update

from eprescription.domain import dispensing as rules
from eprescription.domain.errors import DomainError, PermissionDenied
from eprescription.models import (
    Person,
    Pharmacist,
    Prescription,
    PrescriptionItem,
    Representative,
    Role,
)
from eprescription.services import representation
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "prescription"


def pharmacist_of(uow: UnitOfWork) -> Pharmacist:
    """The pharmacist (and so the pharmacy) behind the acting account, or PermissionDenied."""
    account, pharmacist = uow.account, None
    if account is not None and account.role is Role.PHARMACIST and account.person_id is not None:
        pharmacist = uow.session.scalar(
            select(Pharmacist).where(Pharmacist.person_id == account.person_id)
        )
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


def lock_prescription(uow: UnitOfWork, prescription_id: int) -> Prescription:
    """The prescription and its items, read again under a lock held until commit.

    PostgreSQL: SELECT … FOR UPDATE. SQLite has no row locks and reads outside a transaction,
    so a no-op UPDATE first takes the database's write lock: from there on no other writer can
    change anything, and the reads below see the last committed state.
    """
    session = uow.session
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Prescription)
            .where(Prescription.id == prescription_id)
            .values(version=Prescription.version)
        )
    prescription = session.scalar(
        select(Prescription)
        .where(Prescription.id == prescription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    session.scalars(
        select(PrescriptionItem)
        .where(PrescriptionItem.prescription_id == prescription_id)
        .execution_options(populate_existing=True)
    ).all()
    return prescription


def progress(prescription: Prescription) -> list[rules.LineProgress]:
    """Each line's quantities: per period, periods, dispensed, cancelled."""
    return [
        rules.LineProgress(
            line=item.line,
            quantity=item.quantity,
            periods=1 + prescription.renewals,
            dispensed=item.dispensed_quantity,
            cancelled=item.is_cancelled,
        )
        for item in prescription.items
    ]


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

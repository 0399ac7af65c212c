"""Audit events about one prescription: the action, its number and patient, who acted."""

from eprescription.domain.prescriptions import OBJECT_TYPE
from eprescription.models import Prescription
from eprescription.services import access, audit
from eprescription.services.uow import UnitOfWork


def record(
    uow: UnitOfWork,
    action: str,
    prescription: Prescription,
    *,
    actor: audit.Actor | None = None,
    outcome: str = audit.SUCCESS,
) -> None:
    """Record `action` on the prescription in this transaction (gone with a rollback)."""
    uow.audit(
        action,
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
        actor=actor,
        outcome=outcome,
    )


def record_opened(uow: UnitOfWork, action: str, opened: access.Opened[Prescription]) -> None:
    """Record `action` on a prescription the access rule opened, as the relation it opened by
    (a representative's as such)."""
    record(uow, action, opened.object, actor=access.audit_actor(uow, opened.relation))

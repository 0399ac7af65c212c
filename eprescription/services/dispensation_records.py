"""One dispensation by its id (FHIR MedicationDispense read), under its prescription's rule."""

from sqlalchemy import select

from eprescription.domain.errors import NotFound
from eprescription.models import Dispensation, Prescription
from eprescription.services import prescription_dispensations
from eprescription.services.prescription_dispensations import Records
from eprescription.services.uow import UnitOfWork

UNKNOWN = "No MedicationDispense has this id."  # the same words as fhir/dispensing.py


def of_dispensation(uow: UnitOfWork, dispensation_id: str) -> Records:
    """The dispensation `dispensation_id` and its prescription, read (and audited) exactly as
    the prescription's dispensations are; an unknown id, one the reader may not see and one of
    another pharmacy all get the same NotFound."""
    number = uow.session.scalar(
        select(Prescription.number)
        .join(Dispensation, Dispensation.prescription_id == Prescription.id)
        .where(Dispensation.id == dispensation_id)
    )
    if number is None:
        raise NotFound(UNKNOWN)
    try:
        records = prescription_dispensations.for_prescription(uow, number)
    except NotFound as error:
        raise NotFound(UNKNOWN) from error
    kept = [row for row in records.dispensations if row.id == dispensation_id]
    if not kept:
        raise NotFound(UNKNOWN)
    return Records(records.prescription, kept)

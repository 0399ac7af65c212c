"""What a newcomer types at the demo counter without a scanner: the demo patient's prescription
as its QR text, and the DataMatrix text of a box for each of its lines."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from eprescription.domain.prescriptions import OPEN_STATES, today_of
from eprescription.models import Account, Prescription, Presentation
from eprescription.services import prescription_events, signed_documents
from eprescription.services.demo import DEMO_USERS
from eprescription.services.prescription_qr import open_qr_text
from eprescription.services.uow import UnitOfWork

DEMO_PATIENT = DEMO_USERS[2].username
# A demo box's batch, and how far ahead its expiry is: anything the counter takes as valid.
DEMO_BATCH = "DEMO1"
DEMO_SHELF_LIFE = timedelta(days=730)


@dataclass(frozen=True)
class DemoCounter:
    """The demo prescription to scan, and a box for each of its lines."""

    number: str
    qr_text: str
    boxes: tuple["DemoBox", ...]


@dataclass(frozen=True)
class DemoBox:
    """A box of the prescribed product as its DataMatrix would read, in brackets for typing."""

    product_name: str
    cip13: str
    datamatrix: str


def demo_counter(uow: UnitOfWork) -> DemoCounter | None:
    """The demo patient's newest open prescription, for the operator seeding the demo (the
    opening of its QR text is audited), or None if they have none that verifies."""
    session = uow.session
    today = today_of(uow.now)
    prescription = session.scalars(
        select(Prescription)
        .join(Account, Account.person_id == Prescription.patient_person_id)
        .where(
            Account.username == DEMO_PATIENT,
            Prescription.status.in_([str(status) for status in OPEN_STATES]),
            Prescription.valid_until >= today,
        )
        .order_by(Prescription.id.desc())
        .limit(1)
    ).first()
    if prescription is None:
        return None
    signed = signed_documents.check_one(uow, prescription)
    if not signed.verified:
        return None
    qr_text = open_qr_text(prescription, uow.settings.keyring)
    prescription_events.record(uow, "view_qr", prescription)
    expiry = (today + DEMO_SHELF_LIFE).strftime("%y%m%d")
    boxes = []
    for line in signed.lines:
        cis = line.prescribed.cis
        presentation = (
            cis
            and session.scalars(
                select(Presentation).where(Presentation.cis == cis).order_by(Presentation.cip13)
            ).first()
        )
        if not presentation:
            continue
        serial = f"{prescription.id:06d}{line.line:02d}"
        datamatrix = f"(01)0{presentation.cip13}(17){expiry}(10){DEMO_BATCH}(21){serial}"
        boxes.append(DemoBox(presentation.product.name, presentation.cip13, datamatrix))
    return DemoCounter(prescription.number, qr_text, tuple(boxes))

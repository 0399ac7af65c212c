"""The sweep that tells subscribers a prescription ends soon with nothing collected: one
`prescription.expiring` event per prescription, whichever host sweeps first."""

from datetime import timedelta
from typing import cast

from sqlalchemy import Table, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from eprescription.domain.prescriptions import Status, today_of
from eprescription.models import ExpiryReminder, Prescription
from eprescription.services import events, prescription_events
from eprescription.services.uow import UnitOfWork

DEFAULT_NOTICE_DAYS = 7
BATCH = 500  # prescriptions reminded per sweep at most; the next sweep takes the rest
ACTION = "expiry_reminder"


def sweep(uow: UnitOfWork, notice_days: int = DEFAULT_NOTICE_DAYS, batch: int = BATCH) -> int:
    """Write the `prescription.expiring` event of every prescription still active (nothing
    dispensed) whose validity ends within `notice_days` days, today included, and that had no
    reminder yet; how many. The reminders' primary key decides, in the INSERT itself, which
    of two concurrent sweeps writes a prescription's event (the other waits, then skips it)."""
    today = today_of(uow.now)
    due = uow.session.scalars(
        select(Prescription)
        .options(joinedload(Prescription.prescriber, innerjoin=True))
        .where(
            Prescription.status == Status.ACTIVE,
            Prescription.valid_until >= today,
            Prescription.valid_until <= today + timedelta(days=notice_days),
            ~exists().where(ExpiryReminder.prescription_id == Prescription.id),
        )
        .order_by(Prescription.valid_until, Prescription.id)
        .limit(batch)
    ).all()
    if not due:
        return 0
    table = cast(Table, ExpiryReminder.__table__)
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    claimed = set(
        uow.session.scalars(
            insert(table)
            .values([{"prescription_id": row.id, "reminded_at": uow.now} for row in due])
            .on_conflict_do_nothing(index_elements=[table.c.prescription_id])
            .returning(table.c.prescription_id)
        )
    )
    for prescription in due:
        if prescription.id in claimed:
            valid_until = prescription.valid_until.isoformat()
            events.emit(uow, events.EXPIRING, prescription, valid_until=valid_until)
            prescription_events.record(uow, ACTION, prescription)
    return len(claimed)

"""Scanning a prescription at the counter: opened, verified, refused when closed; audited."""

from eprescription.domain import dispensing as rules
from eprescription.domain.errors import (
    DomainError,
)
from eprescription.domain.prescriptions import today_of
from eprescription.services import (
    access,
    counter,
    counter_access,
    pharmacy_view,
    prescription_events,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork


def scan(uow: UnitOfWork, credentials: counter_access.Credentials) -> pharmacy_view.CounterView:
    """Open a prescription by its QR text (or number + NIR), verify its signature, refuse it
    when closed, and show what is left to dispense; audited."""
    counter.pharmacist_of(uow)
    presenter_nir = counter_access.compact_presenter_nir(
        credentials.presenter_nir, uow.settings.country
    )
    prescription = counter_access.open_prescription(uow, credentials, access.Action.SCAN)
    today = today_of(uow.now)
    try:
        found = signed_documents.require(uow, prescription)
        if credentials.qr_text is None:
            counter_access.check_card(
                uow, found, prescription.patient, credentials, presenter_nir, today
            )
        rules.ensure_allowed("pharmacist", rules.Action.DISPENSE, found.status_on(today))
    except DomainError as error:
        counter.record_refusal(uow, prescription, "scan", error)
        raise
    prescription_events.record(uow, "scan", prescription)
    return pharmacy_view.counter_view(found, today)

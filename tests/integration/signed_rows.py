"""Set-ups the clock cannot give at once (a prescription whose validity has ended), made as the
service would have stored them: its prescriber signs the content with those dates and the row
says the same, so the row still agrees with its signature (docs/signing.md)."""

import json
from datetime import date

from sqlalchemy import select, update

from eprescription.models import Prescriber, Prescription
from eprescription.services import pki
from eprescription.signing.canonical import canonical_json
from tests.integration.people import operator

PIN = "1234"  # the people fixture's prescribers


def signed_with_validity(session, number: str, valid_from: date, valid_until: date) -> None:
    """The prescription numbered `number` (nothing dispensed or cancelled yet) as if its
    prescriber had signed it valid from `valid_from` to `valid_until`."""
    row = session.scalar(select(Prescription).where(Prescription.number == number))
    content = json.loads(row.payload)
    content.update(valid_from=valid_from.isoformat(), valid_until=valid_until.isoformat())
    payload = canonical_json(content)
    with operator(session) as uow:
        prescriber = uow.session.get(Prescriber, row.prescriber_id)
        token = pki.sign_as_prescriber(uow, prescriber, PIN, payload)
    session.execute(
        update(Prescription)
        .where(Prescription.id == row.id)
        .values(payload=payload, jws=token, valid_from=valid_from, valid_until=valid_until)
    )
    session.commit()

"""The row against its signed documents, without a database: domain/signed_prescription.py."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from eprescription.domain import signed_prescription as signed
from eprescription.domain.prescriptions import Status

ISSUED = datetime(2026, 11, 28, 13, 15, 1, tzinfo=UTC)
NIR, RPPS = "285037505612306", "10001234565"
LINE = {
    "line": 1,
    "medication": {"type": "product", "cis": "60234100", "name": "DOLIPRANE 1000 mg"},
    "dosage": {"text": "1 comprimé 3 fois par jour", "dose": "1", "frequency_per_day": 3},
    "quantity": 2,
    "substitutable": True,
    "ald": False,
}
CONTENT = {
    "type": signed.PRESCRIPTION_TYPE,
    "version": 1,
    "number": "H24VYEBTSCH",
    "patient": {
        "identifier": {"system": "NIR", "value": NIR},
        "family_name": "Dubois",
        "given_name": "Camille",
    },
    "prescriber": {"rpps": RPPS, "family_name": "Martin", "given_name": "Claire"},
    "issued_at": "2026-11-28T13:15:01Z",
    "valid_from": "2026-11-28",
    "valid_until": "2027-02-28",
    "renewals": 1,
    "pickup_mode": "public",
    "items": [LINE],
}
ITEM_VALUES = {
    "cis": "60234100",
    "substance_code": None,
    "strength": None,
    "form": None,
    "medication_name": "DOLIPRANE 1000 mg",
    "dosage_text": "1 comprimé 3 fois par jour",
    "dose": "1",
    "dose_unit": None,
    "frequency_per_day": 3,
    "duration_days": None,
    "quantity": 2,
    "substitutable": True,
    "non_substitution_reason": None,
    "ald": False,
}
RECEIPT_LINE = {
    "line": 1,
    "period": 1,
    "cip13": "3400930000000",
    "substituted": False,
    "quantity": 2,
    "batch": "B1",
    "expiry": "2028-01-31",
    "serial": None,
    "unit_price_cents": 200,
    "total_cents": 400,
    "reimbursement_rate": 65,
    "covered_cents": 260,
    "patient_share_cents": 140,
}


def document(content=CONTENT, **fields) -> signed.Document:
    return signed.Document(content, signer_rpps=RPPS, payload_sha256="abc", **fields)


def receipt(*, lines=(RECEIPT_LINE,), **receipt_fields) -> signed.ReceiptColumns:
    content = {
        "type": signed.RECEIPT_TYPE,
        "id": "r1",
        "issued_at": "2026-11-29T10:00:00Z",
        "prescription": {"number": "H24VYEBTSCH", "payload_sha256": "abc"},
        "collected_by": {"kind": "patient"},
        "lines": [{**RECEIPT_LINE, "label": "boîte de 8", "periods": 2}],
        "total_cents": 400,
        "covered_cents": 260,
        "patient_share_cents": 140,
    }
    fields = {
        "id": "r1",
        "dispensed_at": datetime(2026, 11, 29, 10, tzinfo=UTC),
        "collected_by": {"kind": "patient"},
        "total_cents": 400,
        "covered_cents": 260,
        "patient_share_cents": 140,
        "lines": tuple(lines),
        "receipt": signed.Document(content, by_service=True, payload_sha256="r"),
    }
    return signed.ReceiptColumns(**(fields | receipt_fields))


def columns(*, dispensed=0, receipts=(), status="active", **changes) -> signed.PrescriptionColumns:
    item = signed.ItemColumns(1, dict(ITEM_VALUES), 4, dispensed, None)
    row = signed.PrescriptionColumns(
        number="H24VYEBTSCH",
        patient_national_id=NIR,
        prescriber_rpps=RPPS,
        issued_at=ISSUED,
        valid_from=date(2026, 11, 28),
        valid_until=date(2027, 2, 28),
        renewals=1,
        pickup_mode="public",
        status=status,
        version=1,
        jws="x.y.z",
        items=(item,),
        receipts=tuple(receipts),
    )
    return replace(row, **changes)


def test_a_row_that_repeats_its_signed_content_reads_as_the_signed_prescription():
    found = signed.read(columns(), document())

    assert found.verified and found.problems == ()
    assert found.valid_until == date(2027, 2, 28) and found.pickup_mode == "public"
    assert [(line.quantity, line.periods, line.total) for line in found.lines] == [(2, 2, 4)]
    assert found.status_on(date(2027, 3, 1)) is Status.EXPIRED


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"number": "ABCDEFGHJKX"}, "another prescription"),
        ({"patient_national_id": "190063306320126"}, "signed patient"),
        ({"prescriber_rpps": "10009999999"}, "signed prescriber"),
        ({"valid_until": date(2027, 11, 28)}, "valid_until is 2027-11-28 here, 2027-02-28"),
        ({"pickup_mode": "private"}, "pickup mode is private here, public"),
        ({"renewals": 3}, "renewals is 3 here, 1"),
        ({"status": "completed"}, "the status is completed here"),
    ],
)
def test_each_column_that_disagrees_is_named(changes, words):
    found = signed.read(columns(**changes), document())

    assert not found.verified
    assert any(words in problem for problem in found.problems), found.problems
    with pytest.raises(ValueError, match="cannot be verified"):
        found.valid_until  # noqa: B018 — nothing of an unverified one can be used


def test_a_line_whose_quantity_was_raised_is_named_with_both_values():
    row = columns()
    raised = replace(row.items[0], values={**ITEM_VALUES, "quantity": 20}, quantity_total=40)

    found = signed.read(replace(row, items=(raised,)), document())

    assert "line 1: quantity is 20 here, 2 in the signed prescription" in found.problems


def test_a_signature_by_another_certificate_than_the_named_prescribers_is_refused():
    found = signed.read(columns(), replace(document(), signer_rpps="10009999999"))

    assert found.problems == ("it is not signed with the certificate of the prescriber it names",)


def test_a_document_that_failed_its_checks_or_is_not_a_prescription_gives_no_content():
    failed = signed.read(columns(), signed.Document(None, ("payload: differs",)))
    foreign = signed.read(columns(), document({**CONTENT, "items": "nope"}))

    assert failed.problems == ("payload: differs",) and failed.content is None
    assert foreign.problems == (signed.NOT_OURS,) and foreign.content is None


def test_what_was_dispensed_is_what_the_verified_receipts_say():
    given = signed.read(
        columns(dispensed=2, receipts=[receipt()], status="partially_dispensed"), document()
    )
    lowered = signed.read(
        columns(dispensed=1, receipts=[receipt(lines=({**RECEIPT_LINE, "quantity": 1},))]),
        document(),
    )
    unsigned = signed.read(
        columns(dispensed=2, receipts=[receipt(receipt=signed.Document({"type": "x"}))]),
        document(),
    )

    assert given.verified and given.lines[0].dispensed == 2
    assert "receipt r1: pack 1: quantity is 1 here, 2 in the signed receipt" in lowered.problems
    assert unsigned.problems[0].startswith("receipt r1: it is not a document as this service")


def test_a_reversed_receipt_counts_for_nothing_only_with_its_signed_reversal():
    reversal = signed.Document(
        {
            "type": signed.REVERSAL_TYPE,
            "id": "r1",
            "issued_at": "2026-11-29T11:00:00Z",
            "reason": "wrong pack",
            "dispensation": {"id": "r1", "receipt_sha256": "r"},
            "lines": [{"line": 1, "quantity": 2}],
        },
        by_service=True,
    )
    at = datetime(2026, 11, 29, 11, tzinfo=UTC)
    undone = receipt(reversed_at=at, reversal_reason="wrong pack", reversal=reversal)
    bare = receipt(reversed_at=at, reversal_reason="wrong pack")

    assert signed.read(columns(receipts=[undone]), document()).verified
    found = signed.read(columns(receipts=[bare]), document())
    assert "receipt r1: it is marked reversed without a signed reversal" in found.problems

"""A dispensation's receipt signed by the service, as callers show it, its signatures checked."""

import hashlib
import json

from eprescription.domain import dispensing as rules
from eprescription.domain import signed_prescription
from eprescription.domain.dispensing import LineProgress
from eprescription.domain.messages import Message
from eprescription.domain.signed_prescription import iso_seconds
from eprescription.models import (
    Dispensation,
    Pharmacist,
    Prescription,
)
from eprescription.services import dispensed_packs
from eprescription.signing.canonical import canonical_json

RECEIPT_TYPE = signed_prescription.RECEIPT_TYPE
RECEIPT_VERSION = signed_prescription.VERSION


def receipt(
    dispensation: Dispensation,
    prescription: Prescription,
    pharmacist: Pharmacist,
    priced: list[dispensed_packs.PricedPack],
    progress: dict[int, LineProgress],
    limited: dict[int, Message] | None = None,
) -> bytes:
    """The canonical JSON the service signs for a new dispensation: which prescription (its
    payload's hash), who gave what to whom, each line's packs and price, the totals, and the
    dispensing rule that limited each line given less than its period (docs/rules.md)."""
    collected = {"kind": dispensation.collected_by_kind}
    collected.update(
        {
            key: value
            for key, value in (
                ("national_id", dispensation.collected_by_national_id),
                ("name", dispensation.collected_by_name),
            )
            if value
        }
    )
    pharmacy = pharmacist.pharmacy
    limited_by = [
        {"line": line, "code": rule.code, "params": rule.params, "rule": str(rule)}
        for line, rule in sorted((limited or {}).items())
    ]
    return canonical_json(
        {
            **({"limited_by": limited_by} if limited_by else {}),
            "type": RECEIPT_TYPE,
            "version": RECEIPT_VERSION,
            "id": dispensation.id,
            "issued_at": iso_seconds(dispensation.dispensed_at),
            "prescription": {
                "number": prescription.number,
                "payload_sha256": hashlib.sha256(prescription.payload).hexdigest(),
            },
            "pharmacy": {"finess": pharmacy.finess, "name": pharmacy.name},
            "pharmacist": {
                "family_name": pharmacist.person.family_name,
                "given_name": pharmacist.person.given_name,
                "rpps": pharmacist.rpps,
            },
            "collected_by": collected,
            "lines": [_receipt_line(pack, progress[pack.line]) for pack in priced],
            "total_cents": dispensation.total_cents,
            "covered_cents": dispensation.covered_cents,
            "patient_share_cents": dispensation.patient_share_cents,
        }
    )


def _receipt_line(priced: dispensed_packs.PricedPack, progress: LineProgress) -> dict:
    pack, price = priced.pack, priced.price
    signed = {
        "line": priced.line,
        "period": progress.current_period,
        "periods": progress.periods,
        "cip13": priced.presentation.cip13,
        "label": priced.presentation.label,
        "product": priced.product_name,
        "substituted": priced.substituted,
        "quantity": price.quantity,
        "batch": pack.batch,
        "expiry": pack.expiry.isoformat(),
        "unit_price_cents": price.unit_price_cents,
        "total_cents": price.total_cents,
        "reimbursement_rate": price.rate,
        "covered_cents": price.covered_cents,
        "patient_share_cents": price.patient_share_cents,
    }
    if pack.serial:
        signed["serial"] = pack.serial
    return signed


def describe(dispensation: Dispensation) -> dict:
    """The receipt's signed content, its JWS, the prescription's state after it, and the
    reversal (its signed document) when there is one."""
    prescription = dispensation.prescription
    reversal = None
    if dispensation.reversed_at is not None:
        payload = dispensation.reversal_payload
        reversal = {
            "reversed_at": iso_seconds(dispensation.reversed_at),
            "reason": dispensation.reversal_reason,
            "document": json.loads(payload) if payload else None,
            "jws": dispensation.reversal_jws,
        }
    content = json.loads(dispensation.payload)
    return {
        **content,
        # The signed limited_by as sentences the pages word by their code (web/messages.py).
        "limits": [
            {"line": item["line"], "rule": Message(item["code"], item["rule"], **item["params"])}
            for item in content.get("limited_by", [])
        ],
        "prescription_status": prescription.status,
        "prescription_version": prescription.version,
        "reversed_at": reversal["reversed_at"] if reversal else None,
        "reversible_until": iso_seconds(dispensation.dispensed_at + rules.REVERSAL_WINDOW),
        "reversal": reversal,
        "jws": dispensation.jws,
    }

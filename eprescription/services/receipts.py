"""A dispensation's receipt signed by the service, as callers show it, its signatures checked."""

import hashlib
import json
from dataclasses import dataclass

from eprescription.domain import dispensing as rules
from eprescription.domain import signed_prescription
from eprescription.domain.dispensing import LineProgress
from eprescription.domain.errors import ReceiptSignatureInvalid
from eprescription.domain.messages import Message
from eprescription.domain.signed_prescription import Document, iso_seconds
from eprescription.models import (
    Dispensation,
    Pharmacist,
    Prescription,
)
from eprescription.services import dispensed_packs, verified_cache
from eprescription.services.signature_views import SignatureView
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

RECEIPT_TYPE = signed_prescription.RECEIPT_TYPE
RECEIPT_VERSION = signed_prescription.VERSION
REVERSAL_TYPE = signed_prescription.REVERSAL_TYPE
NOT_A_RECEIPT = "the signed content is not a receipt as this service signs them"
UNVERIFIED = (
    "This dispensation's receipt cannot be verified against its signature, so it is not shown "
    "and cannot be reversed: {problems}."
)
# The parts of the signed receipt a Receipt has as fields, named as the receipt names them.
SIGNED_PARTS = (
    "id",
    "issued_at",
    "prescription",
    "pharmacy",
    "pharmacist",
    "collected_by",
    "lines",
    "total_cents",
    "covered_cents",
    "patient_share_cents",
)


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


@dataclass(frozen=True)
class Limit:
    """A dispensing rule that limited a line given less than its period, as the receipt signs
    it: a sentence the pages word by its code (web/messages.py)."""

    line: int
    rule: Message


@dataclass(frozen=True)
class Reversal:
    """When and why a dispensation was reversed, and the document the service signed for it."""

    reversed_at: str
    reason: str | None
    document: dict | None  # its signed content (None: it does not verify)
    jws: str | None
    signature: SignatureView | None = None  # checked, when the dispensation is reopened


@dataclass(frozen=True)
class Receipt:
    """A dispensation as its signed receipt says (`signed`, as is; its parts as fields), the
    prescription's state after it, and its reversal; reopened, with the receipt's signature
    checked and whether it can still be reversed."""

    id: str
    issued_at: str
    prescription: dict  # number, payload_sha256
    pharmacy: dict
    pharmacist: dict
    collected_by: dict
    lines: list[dict]
    total_cents: int
    covered_cents: int
    patient_share_cents: int
    limits: list[Limit]
    prescription_status: str
    prescription_version: int
    reversible_until: str
    reversal: Reversal | None
    jws: str
    signed: dict  # the signed content (its type, version and limited_by too)
    receipt_signature: SignatureView | None = None
    reversible: bool = False

    @property
    def reversed_at(self) -> str | None:
        return self.reversal.reversed_at if self.reversal else None

    def as_json(self) -> dict:
        """The signed content with the rest beside it, as JSON carries it (the content is
        every key but those of RECEIPT_EXTRAS: its JWS verifies against them)."""
        reversal = self.reversal
        return {
            **self.signed,
            "limits": [{"line": limit.line, "rule": limit.rule} for limit in self.limits],
            "prescription_status": self.prescription_status,
            "prescription_version": self.prescription_version,
            "reversed_at": self.reversed_at,
            "reversible_until": self.reversible_until,
            "reversal": None
            if reversal is None
            else {
                "reversed_at": reversal.reversed_at,
                "reason": reversal.reason,
                "document": reversal.document,
                "jws": reversal.jws,
            },
            "jws": self.jws,
        }


def describe(dispensation: Dispensation) -> Receipt:
    """The receipt of a dispensation made or reversed in this very use case (the service signed
    its documents in it): its signed content, its JWS, the prescription's state after it, and
    the reversal (its signed document) when there is one."""
    reversal = dispensation.reversal_payload
    return _described(
        dispensation, json.loads(dispensation.payload), json.loads(reversal) if reversal else None
    )


@dataclass(frozen=True)
class Checked:
    """A stored dispensation's receipt as its signature says: the signed content when the JWS
    verifies, is the service's, is this dispensation's receipt and agrees with its row; else
    why not (`problems`), and nothing of it is shown."""

    content: dict | None
    problems: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        return self.content is not None


def check(uow: UnitOfWork, dispensation: Dispensation) -> Checked:
    """The receipt of a stored dispensation verified against its row (its prescription loaded):
    never parsed unless its signature holds (docs/signing.md)."""
    document = verified_cache.document(uow, dispensation.jws, dispensation.payload)
    if document.content is None:
        return Checked(None, document.problems or ("it cannot be verified",))
    try:
        problems = _binding(document, dispensation)
    except signed_prescription.MALFORMED:
        problems = [NOT_A_RECEIPT]
    return Checked(None, tuple(problems)) if problems else Checked(document.content)


def _binding(document: Document, row: Dispensation) -> list[str]:
    """The signed receipt is this row's: signed by the service, of this dispensation, of its
    prescription, with its amounts, and of the shape the faces read. Not its time: the row's
    only orders the list and closes the 24 hours of reversal (a column may make the service
    refuse, never grant); the prescription's check compares it (domain/signed_prescription)."""
    content = document.content or {}
    if (
        not document.by_service
        or content.get("type") != RECEIPT_TYPE
        or content.get("version") != RECEIPT_VERSION
    ):
        return [NOT_A_RECEIPT]
    problems = []
    prescription = row.prescription
    if content["id"] != row.id:
        problems.append("it is the receipt of another dispensation")
    signed = content["prescription"]
    if signed["number"] != prescription.number or signed["payload_sha256"] != (
        hashlib.sha256(prescription.payload).hexdigest()
    ):
        problems.append("it is about another prescription")
    amounts = ("total_cents", "covered_cents", "patient_share_cents")
    if any(content[field] != getattr(row, field) for field in amounts):
        problems.append("its amounts differ from the stored ones")
    shown = (content["pharmacy"]["name"], content["pharmacist"]["family_name"])
    if not all(isinstance(text, str) for text in shown) or not all(
        isinstance(line["product"], str) and isinstance(line["quantity"], int)
        for line in content["lines"]
    ):
        problems.append(NOT_A_RECEIPT)
    return problems


def cannot_be_verified(checked: Checked) -> Message:
    """Why, in words, for every face."""
    return Message("receipt_unverified", UNVERIFIED, problems="; ".join(checked.problems))


def reopened(uow: UnitOfWork, dispensation: Dispensation) -> Receipt:
    """A stored dispensation's receipt as describe() shows it, from its verified signed content
    (and its reversal's, when that verifies); ReceiptSignatureInvalid when it cannot be."""
    checked = check(uow, dispensation)
    if checked.content is None:
        raise ReceiptSignatureInvalid(cannot_be_verified(checked))
    reversal = None
    if dispensation.reversed_at is not None:
        document = verified_cache.document(
            uow, dispensation.reversal_jws, dispensation.reversal_payload
        )
        content = document.content or {}
        if document.by_service and (content.get("type"), content.get("id")) == (
            REVERSAL_TYPE,
            dispensation.id,
        ):
            reversal = content  # else shown without it, its signature's failure named
    return _described(dispensation, checked.content, reversal)


def limits_of(content: dict) -> list[Limit]:
    """The signed receipt's limited_by (verified content) as sentences coded for the pages."""
    return [
        Limit(item["line"], Message(item["code"], item["rule"], **item["params"]))
        for item in content.get("limited_by", [])
    ]


def _described(
    dispensation: Dispensation, content: dict, reversal_document: dict | None
) -> Receipt:
    prescription = dispensation.prescription
    reversal = None
    if dispensation.reversed_at is not None:
        reversal = Reversal(
            iso_seconds(dispensation.reversed_at),
            dispensation.reversal_reason,
            reversal_document,
            dispensation.reversal_jws,
        )
    return Receipt(
        **{part: content[part] for part in SIGNED_PARTS},
        limits=limits_of(content),
        prescription_status=prescription.status,
        prescription_version=prescription.version,
        reversible_until=iso_seconds(dispensation.dispensed_at + rules.REVERSAL_WINDOW),
        reversal=reversal,
        jws=dispensation.jws,
        signed=content,
    )

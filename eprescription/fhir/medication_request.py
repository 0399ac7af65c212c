"""A prescription as MedicationRequests: one per line, linked by groupIdentifier (docs/fhir.md)."""

from datetime import date

from eprescription.domain.errors import NotFound
from eprescription.domain.prescriptions import Status
from eprescription.domain.signed_prescription import SignedLine, SignedPrescription
from eprescription.fhir import ids, references, systems

# Our states in R4's medicationrequest-status; a line's own state comes first (line_status).
STATUS_CODES = {
    Status.ACTIVE: "active",
    Status.PARTIALLY_DISPENSED: "active",
    Status.COMPLETED: "completed",
    Status.CANCELLED: "cancelled",
    Status.EXPIRED: "stopped",
}
NON_SUBSTITUTION_WORDS = {
    "MTE": "marge thérapeutique étroite",
    "EFG": "enfant de moins de 6 ans, forme galénique adaptée",
    "CIF": "contre-indication formelle",
}


def line_status(status: Status, cancelled: bool, dispensed: int, total: int) -> str:
    """A line's R4 status: cancelled or fully dispensed lines say so, else the prescription's."""
    if cancelled:
        return "cancelled"
    if dispensed >= total:
        return "completed"
    return STATUS_CODES[status]


def medication_requests(
    found: SignedPrescription, today: date, patient_id: int | None = None
) -> list[dict]:
    """Every line of a verified prescription as a MedicationRequest, in line order: the signed
    content, and what its verified receipts and cancellations say, so FHIR cannot disagree.
    `patient_id`: our person id of the patient, for subject.reference (Patient/{id})."""
    status = found.status_on(today)
    return [_resource(found, line, status, patient_id) for line in found.lines]


def medication_request(found: SignedPrescription, line: int, today: date) -> dict:
    """One line as a MedicationRequest, or NotFound."""
    for resource in medication_requests(found, today):
        if resource["id"] == ids.line_id(found.number, line):
            return resource
    raise NotFound(f"This prescription has no line {line}.")


def _resource(
    found: SignedPrescription, item: SignedLine, status: Status, patient_id: int | None
) -> dict:
    content, signed = found.signed_content, item.content
    number, line = found.number, item.line
    code = line_status(status, item.cancelled, item.dispensed, item.total)
    resource = {
        "resourceType": "MedicationRequest",
        "id": ids.line_id(number, line),
        "identifier": [{"system": systems.PRESCRIPTION_LINE, "value": f"{number}-{line}"}],
        "status": code,
        "intent": "order",
        "medicationCodeableConcept": _medication(signed["medication"]),
        "subject": references.patient(content["patient"], patient_id),
        "authoredOn": content["issued_at"],
        "requester": references.practitioner(content["prescriber"]),
        "groupIdentifier": {"system": systems.PRESCRIPTION_NUMBER, "value": number},
        "dosageInstruction": [_dosage(signed["dosage"])],
        "dispenseRequest": {
            "validityPeriod": {"start": content["valid_from"], "end": content["valid_until"]},
            "numberOfRepeatsAllowed": content["renewals"],
            "quantity": references.packs(signed["quantity"]),
        },
        "substitution": _substitution(signed),
    }
    if code == "cancelled":
        reason = item.cancellation.reason if item.cancellation else "cancelled"
        resource["statusReason"] = {"text": reason}
    elif code == "stopped":
        until = found.valid_until.isoformat()
        resource["statusReason"] = {"text": f"expired (valid until {until})"}
    return resource


def _medication(drug: dict) -> dict:
    if drug["type"] == "product":
        coding = {"system": systems.CIS, "code": drug["cis"], "display": drug["name"]}
        return {"coding": [coding], "text": drug["name"]}
    text = f"{drug['name']} {drug['strength']}, {drug['form']}"
    coding = {"system": systems.ANSM_SUBSTANCE, "code": drug["substance_code"], "display": text}
    return {"coding": [coding], "text": text}


def _dosage(dosage: dict) -> dict:
    """The text always; timing and dose only when the prescriber gave them (they are signed)."""
    instruction: dict = {"sequence": 1, "text": dosage["text"]}
    repeat: dict = {}
    if "frequency_per_day" in dosage:
        repeat.update(frequency=dosage["frequency_per_day"], period=1, periodUnit="d")
    if "duration_days" in dosage:
        repeat["boundsDuration"] = references.days(dosage["duration_days"])
    if repeat:
        instruction["timing"] = {"repeat": repeat}
    if "dose" in dosage:
        quantity = {"value": references.decimal(dosage["dose"])}
        if dosage.get("dose_unit"):
            quantity["unit"] = dosage["dose_unit"]
        instruction["doseAndRate"] = [{"doseQuantity": quantity}]
    return instruction


def _substitution(signed: dict) -> dict:
    substitution: dict = {"allowedBoolean": signed["substitutable"]}
    reason = signed.get("non_substitution_reason")
    if reason:
        words = NON_SUBSTITUTION_WORDS.get(reason, reason)
        coding = {"system": systems.NON_SUBSTITUTION_REASON, "code": reason, "display": words}
        substitution["reason"] = {"coding": [coding], "text": f"non substituable ({reason})"}
    return substitution

"""Dispensations as MedicationDispenses: one per dispensed line, read from the signed receipt."""

import json

from eprescription.fhir import ids, references, systems
from eprescription.models import Dispensation, Prescription

MEDICATION_ID = "medication"
GENERIC = {
    "system": systems.SUBSTANCE_ADMIN_SUBSTITUTION,
    "code": "G",
    "display": "generic composition",
}


def medication_dispenses(
    prescription: Prescription, dispensations: list[Dispensation], line: int | None = None
) -> list[dict]:
    """Each dispensed line (of prescription line `line` only, if given), oldest first."""
    signed_patient = json.loads(prescription.payload)["patient"]
    patient = references.patient(signed_patient, prescription.patient_person_id)
    resources = []
    for dispensation in dispensations:
        receipt = json.loads(dispensation.payload)
        rows = zip(dispensation.lines, receipt["lines"], strict=True)
        for position, (row, signed) in enumerate(rows, 1):
            if line is None or row.line == line:
                resources.append(
                    _resource(prescription, dispensation, receipt, position, row, signed, patient)
                )
    return resources


def _resource(prescription, dispensation, receipt, position, row, signed, patient) -> dict:
    pharmacy = receipt["pharmacy"]
    resource = {
        "resourceType": "MedicationDispense",
        "id": f"{dispensation.id}-{position}",
        "contained": [_medication(signed)],
        "identifier": [{"system": systems.DISPENSATION, "value": dispensation.id}],
        "status": "completed" if dispensation.reversed_at is None else "entered-in-error",
        "medicationReference": {"reference": f"#{MEDICATION_ID}"},
        "subject": patient,
        "performer": [{"actor": references.pharmacy(pharmacy["finess"], pharmacy["name"])}],
        "authorizingPrescription": [
            {"reference": f"MedicationRequest/{ids.line_id(prescription.number, row.line)}"}
        ],
        "quantity": references.packs(row.quantity),
        "whenHandedOver": references.instant(dispensation.dispensed_at),
        "substitution": _substitution(row.substituted),
    }
    if dispensation.reversed_at is not None:
        resource["statusReasonCodeableConcept"] = {
            "text": f"reversed on {references.instant(dispensation.reversed_at)}: "
            f"{dispensation.reversal_reason}"
        }
    receiver = _receiver(receipt["collected_by"])
    if receiver is not None:
        resource["receiver"] = [receiver]
    return resource


def _medication(signed: dict) -> dict:
    """The pack given: its CIP13 code, with the batch and expiry printed on it."""
    name = f"{signed['product']} — {signed['label']}" if signed.get("label") else signed["product"]
    return {
        "resourceType": "Medication",
        "id": MEDICATION_ID,
        "code": {
            "coding": [{"system": systems.CIP, "code": signed["cip13"], "display": name}],
            "text": name,
        },
        "batch": {"lotNumber": signed["batch"], "expirationDate": signed["expiry"]},
    }


def _substitution(substituted: bool) -> dict:
    if not substituted:
        return {"wasSubstituted": False}
    return {
        "wasSubstituted": True,
        "type": {"coding": [GENERIC]},
        "reason": [{"text": "a substitute from the prescribed product's generic group"}],
    }


def _receiver(collected_by: dict) -> dict | None:
    """Who collected it when not the patient, by name only (R4 allows no RelatedPerson here)."""
    kind = collected_by["kind"]
    if kind == "patient":
        return None
    who = "the patient's representative" if kind == "representative" else "someone else"
    name = collected_by.get("name")
    return {"display": f"{name} ({who})" if name else who}

"""FHIR issuing out: $prepare's Parameters, and the transaction-response of an issued one."""

import base64
from datetime import datetime

from eprescription.fhir import references, systems
from eprescription.fhir.issuing import EXTENSION, JOSE, SIGNATURE_TYPE
from eprescription.signing.canonical import canonical_json

ACCESS_CODE = f"{EXTENSION}/access-code"
QR_TEXT = f"{EXTENSION}/qr-text"
AUTHOR = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "author",
        }
    ]
}


def prepared(
    number: str,
    issued_at: datetime,
    sign_before: datetime,
    payload: bytes,
    header: dict,
    signing_input: str | None,
    warnings: list[dict],
    rule_notes: list[tuple[int, str]],
) -> dict:
    """What to sign, as $prepare's output Parameters (the JSON prepare's fields)."""
    parameters: list[dict] = [
        {
            "name": "number",
            "valueIdentifier": {"system": systems.PRESCRIPTION_NUMBER, "value": number},
        },
        {"name": "issued-at", "valueInstant": references.instant(issued_at)},
        {"name": "sign-before", "valueInstant": references.instant(sign_before)},
        {"name": "algorithm", "valueCode": header["alg"]},
        {"name": "payload", "valueBase64Binary": base64.b64encode(payload).decode("ascii")},
        {"name": "payload-b64url", "valueString": _b64url(payload)},
        {"name": "protected-header", "valueString": canonical_json(header).decode("utf-8")},
    ]
    if signing_input is not None:
        parameters.append({"name": "signing-input", "valueString": signing_input})
    parameters.extend(_warning(warning) for warning in warnings)
    parameters.extend(
        {
            "name": "rule-note",
            "part": [
                {"name": "line", "valuePositiveInt": line},
                {"name": "message", "valueString": str(message)},
            ],
        }
        for line, message in rule_notes
    )
    return {"resourceType": "Parameters", "parameter": parameters}


def _warning(warning: dict) -> dict:
    parts = [
        {"name": "key", "valueString": warning["key"]},
        {"name": "kind", "valueCode": warning["kind"]},
        {"name": "line", "valuePositiveInt": warning["line"]},
        *({"name": "substance", "valueString": name} for name in warning["substances"]),
        {"name": "message", "valueString": warning["message"]},
        {"name": "needs-acknowledgement", "valueBoolean": warning["needs_acknowledgement"]},
    ]
    return {"name": "warning", "part": parts}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def transaction_response(
    resources: list[dict],
    content: dict,
    token: str,
    access_code: str,
    qr_text: str,
    rule_notes: list[tuple[int, str]],
    base_url: str,
    created: str,
) -> dict:
    """The stored prescription's MedicationRequests (line 1's with the access code and QR
    text, shown once) and its Provenance, one entry each, as the transaction's answer;
    `created` the status line of each entry ("201 Created")."""
    first, *others = resources
    first = {
        **first,
        "extension": [
            {"url": ACCESS_CODE, "valueString": access_code},
            {"url": QR_TEXT, "valueString": qr_text},
        ],
    }
    entries = []
    for line, resource in enumerate([first, *others], start=1):
        location = f"MedicationRequest/{resource['id']}"
        answer: dict = {"status": created, "location": location}
        notes = [str(message) for noted, message in rule_notes if noted == line]
        if notes:
            answer["outcome"] = _informational(notes)
        entries.append(
            {"fullUrl": f"{base_url}/{location}", "resource": resource, "response": answer}
        )
    entries.append(
        {"resource": provenance(resources, content, token), "response": {"status": created}}
    )
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


def provenance(resources: list[dict], content: dict, token: str) -> dict:
    """Who signed the prescription's lines, and the signature (the stored JWS)."""
    prescriber = references.practitioner(content["prescriber"])
    return {
        "resourceType": "Provenance",
        "target": [{"reference": f"MedicationRequest/{r['id']}"} for r in resources],
        "recorded": content["issued_at"],
        "agent": [{"type": AUTHOR, "who": prescriber}],
        "signature": [
            {
                "type": [{"system": SIGNATURE_TYPE[0], "code": SIGNATURE_TYPE[1]}],
                "when": content["issued_at"],
                "who": prescriber,
                "sigFormat": JOSE,
                "data": base64.b64encode(token.encode("ascii")).decode("ascii"),
            }
        ],
    }


def _informational(notes: list[str]) -> dict:
    issues = [
        {"severity": "information", "code": "informational", "diagnostics": note} for note in notes
    ]
    return {"resourceType": "OperationOutcome", "issue": issues}

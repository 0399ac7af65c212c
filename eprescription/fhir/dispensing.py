"""Dispensing through FHIR: MedicationDispenses in → the JSON API's dispense body; out → a
transaction-response Bundle with the created MedicationDispenses and the signed receipt."""

import base64
import json
from dataclasses import dataclass
from typing import Any

from eprescription.domain import prescription_codes as codes
from eprescription.domain import prescriptions as prescription_rules
from eprescription.domain.errors import NotFound
from eprescription.fhir import ids, references, systems
from eprescription.fhir.medication_dispense import medication_dispenses
from eprescription.fhir.problems import Problems
from eprescription.models import Dispensation, Prescription

# Our extensions (docs/fhir.md, "Dispensing"): what the JSON API has as fields.
STRUCTURE = f"{systems.OURS}/StructureDefinition"
ACCESS_CODE = f"{STRUCTURE}/prescription-access-code"  # the QR text, as scanned
IDENTITY_CONFIRMED = f"{STRUCTURE}/identity-confirmed"  # the pharmacist checked who is there
COLLECTOR_KIND = f"{STRUCTURE}/collector-kind"  # on receiver: patient, representative, other
GTIN = "https://www.gs1.org/gtin"
LINES_MAX = 2 * prescription_rules.ITEMS_MAX  # as the JSON API's dispense body
PACK_UNITS = frozenset({references.PACK, "{pack}"})
# The signature on the receipt: ISO-ASTM E1762-95 "Source Signature", a JWS.
SOURCE_SIGNATURE = {
    "system": "urn:iso-astm:E1762-95:2013",
    "code": "1.2.840.10065.1.12.1.14",
    "display": "Source Signature",
}
JOSE = "application/jose"
RECEIPT_FORMAT = "application/json"  # what the JWS signs: the receipt's canonical JSON
SERVICE = {"type": "Organization", "display": "eprescription service"}
PERFORMER = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "performer",
        }
    ]
}
CREATE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE"}
    ]
}
CREATED_STATUS = "201 Created"
NO_SUCH_DISPENSE = "No MedicationDispense has this id."
REFUSAL = "Nothing was dispensed: these elements are not as documented: {paths}."


@dataclass(frozen=True)
class Dispense:
    """What a FHIR dispense request asks: the prescription's number and the JSON API's body."""

    number: str
    body: dict
    bundled: bool  # asked as a Bundle (problems are named by its entries), or one resource


def dispense_body(document: Any) -> Dispense:
    """The number and the body `POST /api/v1/prescriptions/{number}/dispensations` would take
    for `document`: a transaction Bundle of MedicationDispenses (one dispensation, each line a
    resource) or one MedicationDispense. The shapes are checked here; the values (lengths, CIP13
    digits, dates, who collects) by the JSON API's schema, then by the same service."""
    problems = Problems(REFUSAL)
    resources = _resources(document, problems)
    problems.raise_any()
    read = [_read(resource, path, problems) for path, resource in resources]
    problems.raise_any()
    numbers = {codes.compact_number(line.number) for line in read}
    if len(numbers) != 1:
        problems.add("Bundle.entry.resource.authorizingPrescription", "all of one prescription")
    if len({json.dumps(line.credentials, sort_keys=True) for line in read}) != 1:
        problems.add(
            "Bundle.entry.resource",
            "the same access code (or subject), identity check and receiver on every line",
        )
    problems.raise_any()
    body = {**read[0].credentials, "lines": [r.line for r in read]}
    return Dispense(read[0].number, body, document.get("resourceType") == "Bundle")


def _resources(document: Any, problems: Problems) -> list[tuple[str, dict]]:
    """The MedicationDispenses of the request, each with the path its problems are named by."""
    kind = document.get("resourceType") if isinstance(document, dict) else None
    if kind == "MedicationDispense":
        return [("MedicationDispense", document)]
    if kind != "Bundle":
        problems.add("resourceType", "a Bundle (transaction) or a MedicationDispense")
        return []
    if document.get("type") != "transaction":
        problems.add("Bundle.type", "transaction: the lines are dispensed together or not at all")
    entries = document.get("entry")
    if not isinstance(entries, list) or not 1 <= len(entries) <= LINES_MAX:
        problems.add("Bundle.entry", f"1 to {LINES_MAX} entries, one MedicationDispense each")
        return []
    found = []
    for index, entry in enumerate(entries):
        path = f"Bundle.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationDispense":
            problems.add(f"{path}.resource", "a MedicationDispense")
            continue
        request = entry.get("request")
        if not isinstance(request, dict) or (request.get("method"), request.get("url")) != (
            "POST",
            "MedicationDispense",
        ):
            problems.add(f"{path}.request", "method POST, url MedicationDispense")
        found.append((f"{path}.resource", resource))
    return found


@dataclass(frozen=True)
class _Line:
    number: str
    line: dict  # a line of the JSON body
    credentials: dict  # code or number + patient_nir, identity_confirmed, collected_by, presenter


def _read(resource: dict, path: str, problems: Problems) -> _Line:
    if "modifierExtension" in resource:
        problems.add(f"{path}.modifierExtension", "not understood here: nothing is dispensed")
    if resource.get("status") != "completed":
        problems.add(f"{path}.status", "completed: the packs are handed over now")
    number, line = _prescription_line(resource, path, problems)
    pack = {"line": line, "quantity": _quantity(resource, path, problems)}
    pack.update(_pack(resource, path, problems))
    return _Line(number, pack, _credentials(resource, number, path, problems))


def _prescription_line(resource: dict, path: str, problems: Problems) -> tuple[str, int]:
    authorizing = resource.get("authorizingPrescription")
    reference = None
    if isinstance(authorizing, list) and len(authorizing) == 1:
        reference = _get(authorizing[0], "reference")
    if not isinstance(reference, str) or not reference.startswith(ids.REFERENCE_PREFIX):
        problems.add(
            f"{path}.authorizingPrescription",
            "exactly one, MedicationRequest/{id} of the line dispensed",
        )
        return "", 1
    number, line = ids.split_line_id(reference.removeprefix(ids.REFERENCE_PREFIX))
    return number, line or 1


def _quantity(resource: dict, path: str, problems: Problems) -> object:
    quantity = resource.get("quantity")
    if not isinstance(quantity, dict) or "value" not in quantity:
        problems.add(f"{path}.quantity", "the number of packs handed over (value)")
        return None
    unit = quantity.get("unit", references.PACK)
    if not isinstance(unit, str) or unit not in PACK_UNITS:
        problems.add(f"{path}.quantity.unit", "pack: quantities count packs (boxes)")
    return quantity["value"]


def _pack(resource: dict, path: str, problems: Problems) -> dict:
    """cip13 or gs1 (a GTIN), batch and expiry: from medicationCodeableConcept, or from the
    contained Medication that medicationReference names (the only place R4 has a batch)."""
    concept, reference = (
        resource.get("medicationCodeableConcept"),
        resource.get("medicationReference"),
    )
    pack: dict = {}
    if reference is not None:
        medication = _contained(resource, _get(reference, "reference"))
        if medication is None:
            problems.add(f"{path}.medicationReference", "#id of a contained Medication")
            return pack
        concept = medication.get("code")
        batch = medication.get("batch")
        if isinstance(batch, dict):
            pack.update(_batch(batch))
    codings = _get(concept, "coding")
    for coding in codings if isinstance(codings, list) else []:
        system, code = _get(coding, "system"), _get(coding, "code")
        if system == systems.CIP:
            pack["cip13"] = code
        elif system == GTIN and isinstance(code, str):
            pack["gs1"] = f"(01){code}"
    if "cip13" not in pack and "gs1" not in pack:
        problems.add(
            f"{path}.medication",
            f"the pack's code: a coding of system {systems.CIP} (CIP13) or {GTIN}",
        )
    return pack


def _batch(batch: dict) -> dict:
    found = {}
    if "lotNumber" in batch:
        found["batch"] = batch["lotNumber"]
    expiry = batch.get("expirationDate")
    if isinstance(expiry, str):
        found["expiry"] = expiry.partition("T")[0]  # a dateTime's date: what the box says
    elif expiry is not None:
        found["expiry"] = expiry  # refused by the schema, named
    return found


def _contained(resource: dict, reference: object) -> dict | None:
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    found = resource.get("contained")
    for contained in found if isinstance(found, list) else []:
        if (
            isinstance(contained, dict)
            and contained.get("resourceType") == "Medication"
            and contained.get("id") == reference[1:]
        ):
            return contained
    return None


def _credentials(resource: dict, number: str, path: str, problems: Problems) -> dict:
    """What opens the prescription and who takes the packs, as the JSON body says it: the QR
    text (extension), or the patient's NIR (subject.identifier) with the number; the
    pharmacist's identity check; the receiver (absent: the patient), who with manual entry is
    the one at the counter."""
    extensions = _extensions(resource, path, problems)
    credentials: dict = {}
    if ACCESS_CODE in extensions:
        credentials["code"] = extensions[ACCESS_CODE].get("valueString")
    nir = _national_id(_get(resource.get("subject"), "identifier"), f"{path}.subject", problems)
    if nir is not None:
        credentials["patient_nir"] = nir
    if IDENTITY_CONFIRMED in extensions:
        credentials["identity_confirmed"] = extensions[IDENTITY_CONFIRMED].get("valueBoolean")
    collector = _receiver(resource, path, problems)
    credentials["collected_by"] = collector
    manual = "code" not in credentials
    if manual and collector["kind"] != "patient" and "national_id" in collector:
        credentials["presenter_nir"] = collector["national_id"]
    if manual:
        credentials["number"] = codes.compact_number(number)
    return credentials


def _receiver(resource: dict, path: str, problems: Problems) -> dict:
    receivers = resource.get("receiver")
    if receivers is None:
        return {"kind": "patient"}
    if not isinstance(receivers, list) or len(receivers) != 1 or not isinstance(receivers[0], dict):
        problems.add(f"{path}.receiver", "at most one: who took the packs away")
        return {"kind": "patient"}
    receiver = receivers[0]
    kinds = _extensions(receiver, f"{path}.receiver[0]", problems)
    kind = _get(kinds.get(COLLECTOR_KIND), "valueCode")
    if kind is None and str(receiver.get("reference", "")).startswith("Patient/"):
        kind = "patient"
    if kind is None:
        problems.add(
            f"{path}.receiver[0].extension", f"{COLLECTOR_KIND}: patient, representative, other"
        )
    collector = {"kind": kind}
    national_id = _national_id(receiver.get("identifier"), f"{path}.receiver[0]", problems)
    if national_id is not None:
        collector["national_id"] = national_id
    if receiver.get("display") is not None:
        collector["name"] = receiver["display"]
    return collector


def _national_id(identifier: object, path: str, problems: Problems) -> object:
    """The value of a national identifier (NIR, isikukood), its system ours or left out."""
    system = _get(identifier, "system")
    if system is not None and system not in systems.NATIONAL_ID_SYSTEMS.values():
        known = " or ".join(systems.NATIONAL_ID_SYSTEMS.values())
        problems.add(f"{path}.identifier.system", f"a national identifier: {known}")
    return _get(identifier, "value")


def _extensions(element: dict, path: str, problems: Problems) -> dict[str, dict]:
    """The element's extensions by URL (others than ours are ignored, as FHIR allows)."""
    found: dict[str, dict] = {}
    extensions = element.get("extension", [])
    if not isinstance(extensions, list):
        problems.add(f"{path}.extension", "a list of extensions")
        return found
    for extension in extensions:
        url = _get(extension, "url")
        if url in (ACCESS_CODE, IDENTITY_CONFIRMED, COLLECTOR_KIND):
            if url in found:
                problems.add(f"{path}.extension", f"{url} at most once")
            found[url] = extension
    return found


def _get(element: object, name: str) -> Any:
    return element.get(name) if isinstance(element, dict) else None


def created(prescription: Prescription, dispensation: Dispensation) -> dict:
    """The answer to a dispense request: one entry per MedicationDispense created, in the
    request's order, then the receipt as a Provenance carrying the service's JWS."""
    resources = medication_dispenses(prescription, [dispensation])
    entries = [
        {
            "resource": resource,
            "response": {
                "status": CREATED_STATUS,
                "location": f"MedicationDispense/{resource['id']}",
                "lastModified": resource["whenHandedOver"],
            },
        }
        for resource in resources
    ]
    provenance = receipt(dispensation, [resource["id"] for resource in resources])
    entries.append({"resource": provenance, "response": {"status": CREATED_STATUS}})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


def location(answer: dict) -> str | None:
    """The Location of a created dispensation: its first MedicationDispense (None for an
    OperationOutcome)."""
    if answer.get("resourceType") != "Bundle":
        return None
    return answer["entry"][0]["response"]["location"]


def dispensation_id(resource_id: str) -> str:
    """The dispensation of a MedicationDispense id, "{dispensation id}-{position}"."""
    dispensation, separator, position = resource_id.rpartition("-")
    if not (separator and dispensation and position.isdigit()):
        raise NotFound(NO_SUCH_DISPENSE)
    return dispensation


def one_dispense(
    prescription: Prescription, dispensations: list[Dispensation], resource_id: str
) -> dict:
    """The MedicationDispense `resource_id` of these dispensations, as searches show it."""
    for resource in medication_dispenses(prescription, dispensations):
        if resource["id"] == resource_id:
            return resource
    raise NotFound(NO_SUCH_DISPENSE)


def receipt(dispensation: Dispensation, dispensed: list[str]) -> dict:
    """The signed receipt as a Provenance: its targets the MedicationDispenses, its signature
    the receipt's compact JWS (base64), which verifies as docs/integration.md §4 shows."""
    signed = json.loads(dispensation.payload)
    when = references.instant(dispensation.dispensed_at)
    pharmacy = signed["pharmacy"]
    return {
        "resourceType": "Provenance",
        "id": dispensation.id,
        "target": [{"reference": f"MedicationDispense/{target}"} for target in dispensed],
        "recorded": when,
        "activity": CREATE,
        "agent": [
            {"type": PERFORMER, "who": references.pharmacy(pharmacy["finess"], pharmacy["name"])}
        ],
        "signature": [
            {
                "type": [SOURCE_SIGNATURE],
                "when": when,
                "who": SERVICE,
                "targetFormat": RECEIPT_FORMAT,
                "sigFormat": JOSE,
                "data": base64.b64encode(dispensation.jws.encode()).decode(),
            }
        ],
    }


# The JSON API's fields (as its schema and the service name them) → the FHIR elements they were
# read from; a line's are under its MedicationDispense, the rest on every MedicationDispense.
LINE_ELEMENTS = {
    "line": "authorizingPrescription",
    "quantity": "quantity.value",
    "cip13": f"medication (coding {systems.CIP})",
    "gs1": f"medication (coding {GTIN})",
    "batch": "Medication.batch.lotNumber",
    "expiry": "Medication.batch.expirationDate",
}
ELEMENTS = {
    "code": f"extension({ACCESS_CODE})",
    "number": "authorizingPrescription",
    "patient_nir": "subject.identifier",
    "identity_confirmed": f"extension({IDENTITY_CONFIRMED})",
    "presenter_nir": "receiver[0].identifier",
    "kind": f"receiver[0].extension({COLLECTOR_KIND})",
    "national_id": "receiver[0].identifier",
    "name": "receiver[0].display",
}


def fhir_errors(errors: dict, bundled: bool) -> dict[str, list]:
    """`errors` as the JSON API names them, renamed to the FHIR elements of the request."""
    renamed: dict[str, list] = {}
    for path, messages in _flattened(errors):
        renamed.setdefault(_element(path, bundled), []).extend(messages)
    return renamed


def _flattened(errors: dict, path: tuple = ()) -> list[tuple[tuple, list]]:
    found = []
    for key, value in errors.items():
        if isinstance(value, dict):
            found.extend(_flattened(value, (*path, key)))
        else:
            found.append(((*path, key), value if isinstance(value, list) else [value]))
    return found


def _element(path: tuple, bundled: bool) -> str:
    resource = "MedicationDispense"
    if path[0] == "lines" and len(path) >= 2 and isinstance(path[1], int):
        if bundled:
            resource = f"Bundle.entry[{path[1]}].resource"
        return f"{resource}.{LINE_ELEMENTS.get(str(path[-1]), path[-1])}"
    if path[0] == "lines":
        return "Bundle.entry" if bundled else resource
    element = ELEMENTS.get(str(path[-1]))
    return f"{resource}.{element}" if element else ".".join(map(str, path))

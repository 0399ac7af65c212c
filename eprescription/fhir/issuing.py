"""FHIR issuing in: a transaction Bundle of MedicationRequests (and its signed Provenance), or
$prepare's Parameters, read into the JSON API's issuing body (docs/fhir.md, "Issuing")."""

import base64
import binascii
import json
from dataclasses import dataclass

from eprescription.domain.errors import ValidationFailed
from eprescription.fhir import systems
from eprescription.fhir.problems import Problems

EXTENSION = f"{systems.OURS}/StructureDefinition"
# Extensions on a MedicationRequest: (JSON field, value[x]); the request-wide ones must agree
# on every line that carries them; acknowledged-warning repeats.
LINE_EXTENSIONS = {
    f"{EXTENSION}/ald": ("ald", "valueBoolean"),
    f"{EXTENSION}/renewal-authorised": ("renewal_authorised", "valueBoolean"),
    f"{EXTENSION}/initial-prescription": ("initial_prescription", "valueString"),
    f"{EXTENSION}/fractionation-days": ("fractionation_days", "valuePositiveInt"),
    f"{EXTENSION}/overlap-allowed": ("overlap_allowed", "valueBoolean"),
}
REQUEST_EXTENSIONS = {
    f"{EXTENSION}/pickup-mode": ("pickup_mode", "valueCode"),
    f"{EXTENSION}/renewal-request": ("renewal_request", "valuePositiveInt"),
    f"{EXTENSION}/acknowledgement-reason": ("acknowledgement_reason", "valueString"),
}
ACKNOWLEDGED_WARNING = f"{EXTENSION}/acknowledged-warning"  # valueString, repeating
# On medicationCodeableConcept, for a line by active substance.
SUBSTANCE_EXTENSIONS = {
    f"{EXTENSION}/substance-strength": "strength",
    f"{EXTENSION}/dose-form": "form",
}
SIGNATURE_TYPE = ("urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.1")  # author's signature
JOSE = "application/jose"
REFUSAL = "The FHIR resources do not describe a prescription this service can issue."

MEDICATION_REQUEST_ELEMENTS = frozenset(
    {
        "resourceType",
        "id",
        "meta",
        "text",
        "extension",
        "status",
        "intent",
        "subject",
        "requester",
        "medicationCodeableConcept",
        "dosageInstruction",
        "dispenseRequest",
        "substitution",
    }
)
PROVENANCE_ELEMENTS = frozenset(
    {"resourceType", "id", "meta", "text", "target", "recorded", "agent", "signature"}
)
STATUSES = ("draft", "active")

# Where each field of the JSON body comes from, to name FHIR elements in field errors.
LINE_PATHS = {
    "cis": "medicationCodeableConcept.coding",
    "substance": "medicationCodeableConcept",
    "dosage_text": "dosageInstruction[0].text",
    "dose": "dosageInstruction[0].doseAndRate[0].doseQuantity.value",
    "dose_unit": "dosageInstruction[0].doseAndRate[0].doseQuantity.unit",
    "frequency_per_day": "dosageInstruction[0].timing.repeat.frequency",
    "duration_days": "dosageInstruction[0].timing.repeat.boundsDuration.value",
    "quantity": "dispenseRequest.quantity.value",
    "substitutable": "substitution.allowedBoolean",
    "non_substitution_reason": "substitution.reason",
    **{field: f"extension({url})" for url, (field, _) in LINE_EXTENSIONS.items()},
}
REQUEST_PATHS = {
    "patient_nir": "MedicationRequest.subject.identifier.value",
    "valid_from": "MedicationRequest.dispenseRequest.validityPeriod.start",
    "valid_until": "MedicationRequest.dispenseRequest.validityPeriod.end",
    "renewals": "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed",
    "items": "Bundle.entry",
    "acknowledged_warnings": f"MedicationRequest.extension({ACKNOWLEDGED_WARNING})",
    "alg": "Parameters.parameter(alg)",
    "x5c": "Parameters.parameter(x5c)",
    **{
        field: f"MedicationRequest.extension({url})"
        for url, (field, _) in REQUEST_EXTENSIONS.items()
    },
}


@dataclass(frozen=True)
class Submission:
    """What a Bundle asks for: the JSON API's issuing body, and what to check it against."""

    body: dict  # PrescriptionDraftSchema's fields (and alg, x5c for $prepare)
    positions: tuple[int, ...]  # the Bundle entry of each line, in line order
    prescribers: frozenset[str]  # the RPPS numbers requester and the signature's who name
    token: str | None = None  # the compact JWS the Provenance carries

    def check_signer(self, content: object) -> None:
        """ValidationFailed unless the requester and the signature's who, when given, are the
        prescriber `content` (the signed payload, read as JSON) names."""
        prescriber = content.get("prescriber") if isinstance(content, dict) else None
        rpps = prescriber.get("rpps") if isinstance(prescriber, dict) else None
        if isinstance(rpps, str) and self.prescribers - {rpps}:
            raise ValidationFailed(
                "The requester and the signature's who must be the prescriber who signs.",
                errors={
                    "MedicationRequest.requester, Provenance.signature.who": [
                        "not the prescriber who signs (RPPS)"
                    ]
                },
            )


def prepare_input(document: object) -> Submission:
    """$prepare's input: Parameters (`bundle`, optional `alg` and repeating `x5c`), or the
    Bundle itself; it holds no Provenance (nothing is signed yet)."""
    problems = Problems(REFUSAL)
    if isinstance(document, dict) and document.get("resourceType") == "Parameters":
        bundle, signer = _parameters(document, problems)
    else:
        bundle, signer = document, {}
    submission = _read_bundle(bundle, problems, with_provenance=False)
    return Submission({**submission.body, **signer}, submission.positions, submission.prescribers)


def transaction(document: object) -> Submission:
    """The issuing transaction: the MedicationRequests prepare was given, and the Provenance
    whose signature carries the prescriber's compact JWS."""
    return _read_bundle(document, Problems(REFUSAL), with_provenance=True)


def _parameters(document: dict, problems: Problems) -> tuple[object, dict]:
    bundle: object = None
    signer: dict = {}
    for index, parameter in enumerate(_list(document.get("parameter"), "parameter", problems)):
        path = f"Parameters.parameter[{index}]"
        if not isinstance(parameter, dict):
            problems.add(path, "must be an object")
            continue
        name = parameter.get("name")
        if name == "bundle" and bundle is None:
            bundle = parameter.get("resource")
        elif name == "alg" and "alg" not in signer:
            signer["alg"] = parameter.get("valueCode")
        elif name == "x5c":
            signer.setdefault("x5c", []).append(parameter.get("valueString"))
        else:
            problems.add(path, "the parameters are bundle (once), alg (once) and x5c")
    if bundle is None:
        problems.add("Parameters.parameter(bundle)", "required: the Bundle of MedicationRequests")
    problems.raise_any()
    return bundle, signer


def _read_bundle(bundle: object, problems: Problems, with_provenance: bool) -> Submission:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        problems.add("Bundle", "a Bundle (type transaction) of MedicationRequests is required")
        problems.raise_any()
    assert isinstance(bundle, dict)
    if bundle.get("type") != "transaction":
        problems.add("Bundle.type", "must be transaction")
    lines: list[tuple[int, dict, str | None]] = []
    provenances: list[tuple[int, dict]] = []
    for index, entry in enumerate(_list(bundle.get("entry"), "Bundle.entry", problems)):
        path = f"Bundle.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind not in ("MedicationRequest", "Provenance"):
            problems.add(path, "each entry holds a MedicationRequest, or the one Provenance")
            continue
        assert isinstance(entry, dict) and isinstance(resource, dict)
        request = entry.get("request")
        if not isinstance(request, dict) or (request.get("method"), request.get("url")) != (
            "POST",
            kind,
        ):
            problems.add(f"{path}.request", f"must be {{method: POST, url: {kind}}}")
        if kind == "Provenance":
            provenances.append((index, resource))
        else:
            full_url = entry.get("fullUrl")
            lines.append((index, resource, full_url if isinstance(full_url, str) else None))
    if not lines:
        problems.add("Bundle.entry", "at least one MedicationRequest is required")
    items, request_fields, prescribers = _lines(lines, problems)
    token = None
    if with_provenance:
        token = _signed(provenances, lines, prescribers, problems)
    elif provenances:
        problems.add(
            "Bundle.entry", "$prepare takes the MedicationRequests only: nothing is signed"
        )
    problems.raise_any()
    body = {**request_fields, "items": items}
    return Submission(body, tuple(index for index, _, _ in lines), frozenset(prescribers), token)


def _lines(
    lines: list[tuple[int, dict, str | None]], problems: Problems
) -> tuple[list[dict], dict, set[str]]:
    """The items, the request-wide fields every line agrees on, and the RPPS named."""
    items: list[dict] = []
    shared: dict[str, dict[str, object]] = {}  # field -> {its JSON: the value}
    acknowledged: list[str] = []
    prescribers: set[str] = set()
    for index, resource, _ in lines:
        path = f"Bundle.entry[{index}].resource"
        for name in sorted(set(resource) - MEDICATION_REQUEST_ELEMENTS):
            problems.add(f"{path}.{name}", "not supported: this service would not store it")
        if resource.get("status") not in STATUSES:
            problems.add(f"{path}.status", "must be draft or active")
        if resource.get("intent") != "order":
            problems.add(f"{path}.intent", "must be order")
        item, wide = _line(resource, path, problems, acknowledged)
        items.append(item)
        rpps = _practitioner(resource.get("requester"), f"{path}.requester", problems)
        if rpps is not None:
            prescribers.add(rpps)
        for field, value in wide.items():
            shared.setdefault(field, {})[json.dumps(value, sort_keys=True)] = value
    fields: dict = {}
    for field, values in shared.items():
        if len(values) > 1:
            path = REQUEST_PATHS.get(field, field)
            problems.add(path, "every MedicationRequest of the Bundle must give the same value")
        else:
            fields[field] = next(iter(values.values()))
    if acknowledged:
        fields["acknowledged_warnings"] = sorted(set(acknowledged))
    return items, fields, prescribers


def _line(
    resource: dict, path: str, problems: Problems, acknowledged: list[str]
) -> tuple[dict, dict]:
    """One MedicationRequest as an item of the JSON body, and its request-wide fields."""
    item: dict = {}
    wide: dict = {}
    subject = _object(resource.get("subject"), f"{path}.subject", problems, required=True)
    identifier = _object(subject.get("identifier"), f"{path}.subject.identifier", problems, True)
    if identifier.get("system") not in systems.NATIONAL_ID_SYSTEMS.values():
        known = " or ".join(systems.NATIONAL_ID_SYSTEMS.values())
        problems.add(f"{path}.subject.identifier.system", f"must be {known}")
    wide["patient_nir"] = identifier.get("value")
    _medication(resource.get("medicationCodeableConcept"), path, problems, item)
    _dosage(resource.get("dosageInstruction"), f"{path}.dosageInstruction", problems, item)
    _dispense(resource.get("dispenseRequest"), f"{path}.dispenseRequest", problems, item, wide)
    substitution = _object(resource.get("substitution"), f"{path}.substitution", problems)
    if "allowedBoolean" in substitution:
        item["substitutable"] = substitution["allowedBoolean"]
    reason = _object(substitution.get("reason"), f"{path}.substitution.reason", problems)
    for coding in _codings(reason, f"{path}.substitution.reason", problems):
        if coding.get("system") == systems.NON_SUBSTITUTION_REASON:
            item["non_substitution_reason"] = coding.get("code")
    if reason and "non_substitution_reason" not in item:
        problems.add(f"{path}.substitution.reason", "code it in the non-substitution-reason system")
    for position, extension in enumerate(
        _list(resource.get("extension"), f"{path}.extension", problems)
    ):
        where = f"{path}.extension[{position}]"
        url = extension.get("url") if isinstance(extension, dict) else None
        if url in LINE_EXTENSIONS:
            field, value = LINE_EXTENSIONS[url]
            item[field] = _value(extension, value, where, problems)
        elif url in REQUEST_EXTENSIONS:
            field, value = REQUEST_EXTENSIONS[url]
            wide[field] = _value(extension, value, where, problems)
        elif url == ACKNOWLEDGED_WARNING:
            acknowledged.append(_value(extension, "valueString", where, problems))
        else:
            problems.add(where, "an extension this service does not know (docs/fhir.md)")
    return item, wide


def _medication(concept: object, path: str, problems: Problems, item: dict) -> None:
    where = f"{path}.medicationCodeableConcept"
    found = _object(concept, where, problems, required=True)
    codes = {coding.get("system"): coding for coding in _codings(found, where, problems)}
    if systems.CIS in codes:
        item["cis"] = codes[systems.CIS].get("code")
    elif systems.ANSM_SUBSTANCE in codes:
        substance = {"code": codes[systems.ANSM_SUBSTANCE].get("code")}
        for position, extension in enumerate(
            _list(found.get("extension"), f"{where}.extension", problems)
        ):
            url = extension.get("url") if isinstance(extension, dict) else None
            at = f"{where}.extension[{position}]"
            if url in SUBSTANCE_EXTENSIONS:
                substance[SUBSTANCE_EXTENSIONS[url]] = _value(
                    extension, "valueString", at, problems
                )
            else:
                problems.add(at, "an extension this service does not know (docs/fhir.md)")
        item["substance"] = substance
    elif found:
        problems.add(f"{where}.coding", f"a CIS ({systems.CIS}) or an ANSM substance code")


def _dosage(dosages: object, path: str, problems: Problems, item: dict) -> None:
    listed = _list(dosages, path, problems)
    if len(listed) != 1 or not isinstance(listed[0], dict):
        problems.add(path, "exactly one dosage instruction, with its text")
        return
    dosage = listed[0]
    item["dosage_text"] = dosage.get("text")
    where = f"{path}[0]"
    timing = _object(dosage.get("timing"), f"{where}.timing", problems)
    repeat = _object(timing.get("repeat"), f"{where}.timing.repeat", problems)
    if "frequency" in repeat:
        if (repeat.get("period"), repeat.get("periodUnit")) != (1, "d"):
            problems.add(f"{where}.timing.repeat", "a frequency is per day: period 1, periodUnit d")
        item["frequency_per_day"] = repeat["frequency"]
    bounds = _object(
        repeat.get("boundsDuration"), f"{where}.timing.repeat.boundsDuration", problems
    )
    if bounds:
        if bounds.get("code", "d") != "d" or bounds.get("system", systems.UCUM) != systems.UCUM:
            problems.add(f"{where}.timing.repeat.boundsDuration", "a duration in days (UCUM d)")
        item["duration_days"] = bounds.get("value")
    rates = _list(dosage.get("doseAndRate"), f"{where}.doseAndRate", problems)
    if rates:
        rate = _object(rates[0], f"{where}.doseAndRate[0]", problems)
        dose = _object(rate.get("doseQuantity"), f"{where}.doseAndRate[0].doseQuantity", problems)
        value = dose.get("value")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        item["dose"] = str(value) if number else value
        if "unit" in dose:
            item["dose_unit"] = dose["unit"]


def _dispense(request: object, path: str, problems: Problems, item: dict, wide: dict) -> None:
    found = _object(request, path, problems, required=True)
    quantity = _object(found.get("quantity"), f"{path}.quantity", problems, required=True)
    if quantity.get("unit", "pack") != "pack":
        problems.add(f"{path}.quantity.unit", "quantities are in packs (unit pack)")
    item["quantity"] = quantity.get("value")
    period = _object(found.get("validityPeriod"), f"{path}.validityPeriod", problems)
    for name, field in (("start", "valid_from"), ("end", "valid_until")):
        if name in period:
            wide[field] = period[name]
    if "numberOfRepeatsAllowed" in found:
        wide["renewals"] = found["numberOfRepeatsAllowed"]


def _signed(
    provenances: list[tuple[int, dict]],
    lines: list[tuple[int, dict, str | None]],
    prescribers: set[str],
    problems: Problems,
) -> str | None:
    """The compact JWS of the one Provenance, which targets every MedicationRequest."""
    if len(provenances) != 1:
        problems.add("Bundle.entry", "exactly one Provenance carries the prescriber's signature")
        return None
    index, provenance = provenances[0]
    path = f"Bundle.entry[{index}].resource"
    for name in sorted(set(provenance) - PROVENANCE_ELEMENTS):
        problems.add(f"{path}.{name}", "not supported: this service would not store it")
    targets = {
        target.get("reference")
        for target in _list(provenance.get("target"), f"{path}.target", problems)
        if isinstance(target, dict)
    }
    for line_index, _, full_url in lines:
        if full_url is None:
            problems.add(
                f"Bundle.entry[{line_index}].fullUrl", "required: the Provenance targets it"
            )
        elif full_url not in targets:
            problems.add(f"{path}.target", f"must reference {full_url}, as every line")
    signatures = _list(provenance.get("signature"), f"{path}.signature", problems)
    if len(signatures) != 1 or not isinstance(signatures[0], dict):
        problems.add(f"{path}.signature", "exactly one signature: the prescriber's JWS")
        return None
    signature, where = signatures[0], f"{path}.signature[0]"
    kinds = {
        (coding.get("system"), coding.get("code"))
        for coding in _list(signature.get("type"), f"{where}.type", problems)
        if isinstance(coding, dict)
    }
    if SIGNATURE_TYPE not in kinds:
        problems.add(
            f"{where}.type", "must hold {}|{} (author's signature)".format(*SIGNATURE_TYPE)
        )
    if signature.get("sigFormat") != JOSE:
        problems.add(f"{where}.sigFormat", f"must be {JOSE}: a compact JWS")
    rpps = _practitioner(signature.get("who"), f"{where}.who", problems, required=True)
    if rpps is not None:
        prescribers.add(rpps)
    return _token(signature.get("data"), f"{where}.data", problems)


def _token(data: object, path: str, problems: Problems) -> str | None:
    if not isinstance(data, str):
        problems.add(path, "required: the compact JWS, base64")
        return None
    try:
        return base64.b64decode(data, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        problems.add(path, "must be base64 of the compact JWS (ASCII)")
        return None


def _practitioner(reference: object, path: str, problems: Problems, required=False) -> str | None:
    """The RPPS a reference names: Practitioner/{RPPS}, or an RPPS identifier."""
    found = _object(reference, path, problems, required=required)
    if not found:
        return None
    value = found.get("reference")
    if isinstance(value, str) and value.startswith("Practitioner/"):
        return value.removeprefix("Practitioner/")
    identifier = found.get("identifier")
    if isinstance(identifier, dict) and identifier.get("system") == systems.RPPS:
        rpps = identifier.get("value")
        if isinstance(rpps, str):
            return rpps
    problems.add(path, f"Practitioner/{{RPPS}}, or an identifier in {systems.RPPS}")
    return None


def _codings(concept: dict, path: str, problems: Problems) -> list[dict]:
    return [
        c for c in _list(concept.get("coding"), f"{path}.coding", problems) if isinstance(c, dict)
    ]


def _value(extension: dict, kind: str, path: str, problems: Problems):
    if kind not in extension:
        problems.add(path, f"its value is {kind}")
    return extension.get(kind)


def _object(value: object, path: str, problems: Problems, required: bool = False) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "required" if value is None else "must be an object")
        return {}
    return value


def _list(value: object, path: str, problems: Problems) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, "must be an array")
        return []
    return value


def fhir_errors(errors: dict, positions: tuple[int, ...]) -> dict:
    """The JSON body's field errors (marshmallow's) named by the FHIR elements they come from."""
    named: dict = {}
    for field, messages in errors.items():
        if field == "items" and isinstance(messages, dict):
            for line, inner in messages.items():
                entry = positions[line] if isinstance(line, int) and line < len(positions) else line
                for name, problem in inner.items() if isinstance(inner, dict) else [("", inner)]:
                    where = LINE_PATHS.get(name, name)
                    named[f"Bundle.entry[{entry}].resource.{where}".rstrip(".")] = problem
        else:
            named[REQUEST_PATHS.get(field, field)] = messages
    return named

"""FHIR issuing on both engines: MedicationRequest/$prepare, then a transaction Bundle whose
Provenance carries a JWS made outside (PyJWS, a CA made here and trusted with `flask pki trust
add`); every resource sent and received passes fhir.resources plus R4's required codes."""

import base64
import copy
import json
from datetime import timedelta

import jwt
import pytest
from cryptography import x509
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import func, select

from eprescription.models import AuditEvent, Prescription
from eprescription.signing.canonical import canonical_json
from tests.integration import test_external_signing as signing
from tests.integration import test_fhir
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.test_external_signing import RPPS, OutsideCa, now, sign, x5c
from tests.integration.test_prescriptions_api import PATIENT_NIR

people = prescribing.people
products = prescribing.products
outside = signing.outside
pharmacist = signing.pharmacist

FHIR = "/fhir/r4"
PREPARE = f"{FHIR}/MedicationRequest/$prepare"
FHIR_JSON = "application/fhir+json"
OURS = "https://eprescription.example/fhir/StructureDefinition"
SIGNATURE_TYPE = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}
REASON = "Same treatment again, checked with the patient."
# R4's required bindings of what issuing exchanges, beyond what test_fhir checks.
BUNDLE_TYPES = {"transaction", "transaction-response"}
PROVENANCE_ENTITY_ROLES = {"derivation", "revision", "quotation", "source", "removal"}


def validated(resource: dict) -> dict:
    """`resource` after fhir.resources and R4's required codes accepted it."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    if kind == "Bundle":
        assert resource["type"] in BUNDLE_TYPES, resource["type"]
        for entry in resource.get("entry", []):
            validated(entry["resource"])
            outcome = entry.get("response", {}).get("outcome")
            if outcome:
                get_fhir_model_class("OperationOutcome").model_validate(outcome)
                assert {i["severity"] for i in outcome["issue"]} == {"information"}
        return resource
    if kind == "Provenance":
        for signature in resource.get("signature", []):
            assert signature["sigFormat"] == "application/jose"
        return resource
    return test_fhir.validated(resource)


def medication_request(products, line: int, **changes) -> dict:
    """Line `line` of prescribing.body, as practice software writes it in FHIR."""
    lines = [
        {
            "medicationCodeableConcept": {
                "coding": [{"system": test_fhir.CIS_SYSTEM, "code": products["doliprane"]}]
            },
            "dosageInstruction": [
                {
                    "sequence": 1,
                    "text": "1 comprimé jusqu'à 3 fois par jour si douleur",
                    "timing": {
                        "repeat": {
                            "frequency": 3,
                            "period": 1,
                            "periodUnit": "d",
                            "boundsDuration": {
                                "value": 5,
                                "unit": "days",
                                "system": "http://unitsofmeasure.org",
                                "code": "d",
                            },
                        }
                    },
                    "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "comprimé"}}],
                }
            ],
            "dispenseRequest": {"quantity": {"value": 1, "unit": "pack"}},
        },
        {
            "extension": [
                {"url": f"{OURS}/ald", "valueBoolean": True},
                {"url": f"{OURS}/renewal-authorised", "valueBoolean": True},
            ],
            "medicationCodeableConcept": {
                "coding": [{"system": test_fhir.CIS_SYSTEM, "code": products["amoxicilline"]}]
            },
            "dosageInstruction": [{"text": "1 g matin et soir pendant 6 jours"}],
            "dispenseRequest": {"quantity": {"value": 2, "unit": "pack"}},
            "substitution": {
                "allowedBoolean": False,
                "reason": {
                    "coding": [
                        {
                            "system": "https://eprescription.example/fhir/CodeSystem/"
                            "non-substitution-reason",
                            "code": "CIF",
                        }
                    ]
                },
            },
        },
    ][line - 1]
    resource = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"identifier": {"system": test_fhir.NIR_SYSTEM, "value": PATIENT_NIR}},
        "requester": {"reference": f"Practitioner/{RPPS}"},
        **lines,
    }
    resource.setdefault("extension", []).append(
        {"url": f"{OURS}/acknowledgement-reason", "valueString": REASON}
    )
    resource.update(changes)
    return resource


def bundle(*resources: dict, valid: bool = True) -> dict:
    """A transaction of `resources`; valid FHIR unless the test means otherwise."""
    document = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{index}",
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for index, resource in enumerate(resources, start=1)
        ],
    }
    return validated(document) if valid else document


def draft(products) -> dict:
    return bundle(medication_request(products, 1), medication_request(products, 2))


def provenance(draft_bundle: dict, token: str, who: str = RPPS) -> dict:
    return {
        "resourceType": "Provenance",
        "target": [{"reference": entry["fullUrl"]} for entry in draft_bundle["entry"]],
        "recorded": now().isoformat(timespec="seconds"),
        "agent": [{"who": {"reference": f"Practitioner/{who}"}}],
        "signature": [
            {
                "type": [SIGNATURE_TYPE],
                "when": now().isoformat(timespec="seconds"),
                "who": {"reference": f"Practitioner/{who}"},
                "sigFormat": "application/jose",
                "data": base64.b64encode(token.encode()).decode(),
            }
        ],
    }


def signed(draft_bundle: dict, token: str, **changes) -> dict:
    """The draft with the Provenance carrying `token` appended as its last entry."""
    document = copy.deepcopy(draft_bundle)
    document["entry"].append(
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000ff",
            "resource": {**provenance(draft_bundle, token), **changes},
            "request": {"method": "POST", "url": "Provenance"},
        }
    )
    return document


def post(client, path: str, document: dict, headers: dict):
    return client.post(path, data=json.dumps(document), content_type=FHIR_JSON, headers=headers)


def prepared(client, people, document: dict) -> dict:
    response = post(client, PREPARE, document, people["doctor"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    return validated(response.get_json())


def parameter(parameters: dict, name: str):
    (found,) = [p for p in parameters["parameter"] if p["name"] == name]
    return next(value for key, value in found.items() if key.startswith("value"))


def payload_of(parameters: dict) -> bytes:
    return base64.b64decode(parameter(parameters, "payload"))


def prescriptions(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Prescription))


def refused(client, db_session, people, document: dict, status: int, code: str) -> dict:
    """The transaction is refused with an OperationOutcome naming `code`; nothing stored."""
    response = post(client, FHIR, document, people["doctor"])
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    outcome = validated(response.get_json())
    assert test_fhir.outcome_code(outcome)[1] == code
    assert prescriptions(db_session) == 0
    return outcome


def signed_draft(client, people, products, key, certificate, alg="ES256") -> dict:
    document = draft(products)
    token = sign(payload_of(prepared(client, people, document)), key, x5c(certificate), alg)
    return signed(document, token)


# -- $prepare ---------------------------------------------------------------------------------


def test_prepare_gives_the_payload_the_json_prepare_gives_and_stores_nothing(
    client, db_session, people, products
):
    parameters = prepared(client, people, draft(products))
    json_prepared = signing.prepare(client, people, products)

    payload = payload_of(parameters)
    content = json.loads(payload)
    assert canonical_json(content) == payload
    assert parameter(parameters, "payload-b64url") == jwt.utils.base64url_encode(payload).decode()
    assert parameter(parameters, "number")["value"] == content["number"]
    number = content["number"]
    expected = json.loads(json_prepared["payload"])
    for varying in ("number", "issued_at"):
        del content[varying], expected[varying]
    assert content == expected  # the same rules, the same payload
    assert parameter(parameters, "protected-header") == '{"alg":"ES256","typ":"JOSE"}'
    assert prescriptions(db_session) == 0
    (event,) = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "prepare", AuditEvent.object_id == number)
    ).all()
    assert event.outcome == "success"


def test_prepare_in_parameters_with_alg_and_x5c_gives_the_exact_signing_input(
    client, people, products, outside
):
    _, certificate = outside.card("PS256")
    chain = x5c(certificate)
    document = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "bundle", "resource": draft(products)},
            {"name": "alg", "valueCode": "PS256"},
            *({"name": "x5c", "valueString": entry} for entry in chain),
        ],
    }
    validated(document)

    parameters = prepared(client, people, document)

    header = canonical_json({"alg": "PS256", "typ": "JOSE", "x5c": chain})
    assert parameter(parameters, "protected-header") == header.decode()
    encoded = jwt.utils.base64url_encode(header).decode()
    payload = jwt.utils.base64url_encode(payload_of(parameters)).decode()
    assert parameter(parameters, "signing-input") == f"{encoded}.{payload}"


def test_a_line_by_active_substance_with_strength_and_form_extensions(client, people, products):
    substance = products["paracetamol"]
    line = medication_request(
        products,
        1,
        medicationCodeableConcept={
            "extension": [
                {"url": f"{OURS}/substance-strength", "valueString": substance["strength"]},
                {"url": f"{OURS}/dose-form", "valueString": substance["form"]},
            ],
            "coding": [
                {
                    "system": "http://data.esante.gouv.fr/ansm/medicament/substance",
                    "code": substance["code"],
                }
            ],
        },
    )

    content = json.loads(payload_of(prepared(client, people, bundle(line))))

    medication = content["items"][0]["medication"]
    assert medication["type"] == "substance"
    assert medication["substance_code"] == substance["code"]


def test_prepare_refuses_what_it_cannot_read_naming_the_fhir_elements(client, people, products):
    odd = medication_request(products, 1, note=[{"text": "?"}])
    odd["dispenseRequest"] = {"quantity": {"value": "two"}}
    other_patient = medication_request(
        products, 2, subject={"identifier": {"system": test_fhir.NIR_SYSTEM, "value": "x"}}
    )

    response = post(client, PREPARE, bundle(odd, other_patient, valid=False), people["doctor"])

    assert response.status_code == 422, response.get_data(as_text=True)
    outcome = validated(response.get_json())
    assert test_fhir.outcome_code(outcome) == ("invalid", "validation_failed")
    said = "\n".join(issue["diagnostics"] for issue in outcome["issue"])
    assert "Bundle.entry[0].resource.note" in said
    assert "MedicationRequest.subject.identifier.value" in said
    assert PATIENT_NIR not in said


def test_request_wide_values_are_read_from_every_line_and_must_agree(client, people, products):
    def line(number: int, start: str, pickup: str) -> dict:
        resource = medication_request(products, number)
        resource["dispenseRequest"]["validityPeriod"] = {"start": start}
        resource["extension"].append({"url": f"{OURS}/pickup-mode", "valueCode": pickup})
        return resource

    today = now().date().isoformat()
    agreed = prepared(client, people, bundle(line(1, today, "private"), line(2, today, "private")))
    content = json.loads(payload_of(agreed))
    assert (content["valid_from"], content["pickup_mode"]) == (today, "private")

    tomorrow = (now().date() + timedelta(days=1)).isoformat()
    document = bundle(line(1, today, "private"), line(2, tomorrow, "public"))
    response = post(client, PREPARE, document, people["doctor"])

    assert response.status_code == 422, response.get_data(as_text=True)
    said = "\n".join(i["diagnostics"] for i in validated(response.get_json())["issue"])
    assert "MedicationRequest.dispenseRequest.validityPeriod.start" in said
    assert f"MedicationRequest.extension({OURS}/pickup-mode)" in said


def test_prepare_checks_the_values_as_issuing_does(client, people, products):
    line = medication_request(products, 1, dispenseRequest={"quantity": {"value": 0}})

    response = post(client, PREPARE, bundle(line), people["doctor"])

    outcome = validated(response.get_json())
    assert response.status_code == 422
    said = "\n".join(issue["diagnostics"] for issue in outcome["issue"])
    assert "Bundle.entry[0].resource.dispenseRequest.quantity.value" in said


def test_prepare_is_for_prescribers(client, people, products, pharmacist):
    assert post(client, PREPARE, draft(products), {}).status_code == 401
    response = post(client, PREPARE, draft(products), pharmacist)
    assert response.status_code == 403
    assert test_fhir.outcome_code(validated(response.get_json()))[0] == "forbidden"


# -- issuing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_a_bundle_signed_with_the_prescribers_own_key_is_issued(
    client, db_session, people, products, outside, alg
):
    key, certificate = outside.card(alg)
    document = signed_draft(client, people, products, key, certificate, alg)
    validated(document)

    response = post(client, FHIR, document, people["doctor"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    answer = validated(response.get_json())
    assert answer["type"] == "transaction-response"
    *lines, signature_entry = answer["entry"]
    number = lines[0]["resource"]["id"]
    assert response.headers["Location"].endswith(f"{FHIR}/MedicationRequest/{number}")
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created"] * 3
    assert [e["resource"]["status"] for e in lines] == ["active", "active"]
    extensions = {e["url"]: e["valueString"] for e in lines[0]["resource"]["extension"]}
    assert extensions[f"{OURS}/qr-text"].startswith(f"EP1.{number}.")
    # The stored prescription is the one signed, and reads back in FHIR and JSON.
    stored = db_session.scalar(select(Prescription).where(Prescription.number == number))
    token = base64.b64decode(document["entry"][-1]["resource"]["signature"][0]["data"]).decode()
    assert stored.jws == token
    read = test_fhir.fhir_get(client, f"/MedicationRequest/{number}", people["doctor"])
    assert read["dispenseRequest"] == lines[0]["resource"]["dispenseRequest"]
    assert client.get(f"/api/v1/prescriptions/{number}", headers=people["doctor"]).json["verified"]
    # An independent verifier: the Provenance's JWS, the published CA, PyJWT.
    given = signature_entry["resource"]["signature"][0]
    assert given["who"]["reference"] == f"Practitioner/{RPPS}"
    returned = base64.b64decode(given["data"]).decode()
    header = jwt.get_unverified_header(returned)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    decoded = jwt.api_jws.PyJWS().decode_complete(returned, key=leaf.public_key(), algorithms=[alg])
    assert decoded["payload"] == stored.payload
    trust_list = client.get("/api/v1/trust/certificates").get_json()
    (published,) = [a for a in trust_list["authorities"] if a["kind"] == "prescriber_ca"]
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(published["pem"].encode()))


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(
    client, db_session, people, products, outside
):
    key, certificate = outside.card()
    document = signed_draft(client, people, products, key, certificate)
    headers = {**people["doctor"], "Idempotency-Key": "fhir-issue-1"}

    first = post(client, FHIR, document, headers)
    again = post(client, FHIR, document, headers)
    other = copy.deepcopy(document)
    other["entry"][0]["resource"]["status"] = "active"
    reused = post(client, FHIR, other, headers)

    assert first.status_code == again.status_code == 200, first.get_data(as_text=True)
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert reused.status_code == 422
    assert test_fhir.outcome_code(validated(reused.get_json()))[1] == "idempotency_key_reused"
    assert prescriptions(db_session) == 1


def test_the_same_signed_bundle_sent_twice_is_stored_once(
    client, db_session, people, products, outside
):
    key, certificate = outside.card()
    document = signed_draft(client, people, products, key, certificate)
    assert post(client, FHIR, document, people["doctor"]).status_code == 200

    response = post(client, FHIR, document, people["doctor"])

    assert response.status_code == 409
    assert test_fhir.outcome_code(validated(response.get_json())) == (
        "conflict",
        "prescription_number_taken",
    )
    assert prescriptions(db_session) == 1


# -- refused ----------------------------------------------------------------------------------

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("card", "code"),
    [
        (lambda ca: OutsideCa("AC INCONNUE").card(), "signer_certificate_untrusted"),
        (
            lambda ca: ca.card(not_before=now() - 48 * HOUR, not_after=now() - 24 * HOUR),
            "signer_certificate_expired",
        ),
        (lambda ca: ca.card(not_before=now() + 24 * HOUR), "signer_certificate_not_yet_valid"),
        (
            lambda ca: ca.card(usage=signing._usage(key_encipherment=True)),
            "signer_key_usage_refused",
        ),
        (lambda ca: ca.card(rpps=prescribing.make_rpps("1000999999")), "signer_rpps_mismatch"),
    ],
)
def test_a_certificate_refused_by_the_json_submission_is_refused_here_too(
    client, db_session, people, products, outside, card, code
):
    key, certificate = card(outside)
    document = signed_draft(client, people, products, key, certificate)

    refused(client, db_session, people, document, 422, code)
    outcomes = db_session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "issue"))
    assert code in list(outcomes)


def test_a_revoked_certificate_is_refused(
    client, db_session, runner, tmp_path, people, products, outside
):
    key, certificate = outside.card()
    result = signing.load_crl(runner, tmp_path, outside.crl(revoked=[certificate]))
    assert result.exit_code == 0, result.output
    document = signed_draft(client, people, products, key, certificate)

    refused(client, db_session, people, document, 422, "signer_certificate_revoked")


def test_lines_changed_after_prepare_are_refused(client, db_session, people, products, outside):
    key, certificate = outside.card()
    document = signed_draft(client, people, products, key, certificate)
    document["entry"][1]["resource"]["dispenseRequest"]["quantity"]["value"] = 3

    refused(client, db_session, people, document, 422, "signed_payload_mismatch")


def test_a_payload_changed_after_prepare_is_refused(client, db_session, people, products, outside):
    key, certificate = outside.card()
    document = draft(products)
    content = json.loads(payload_of(prepared(client, people, document)))
    content["items"][0]["quantity"] = 9
    token = sign(canonical_json(content), key, x5c(certificate), "ES256")

    refused(client, db_session, people, signed(document, token), 422, "signed_payload_mismatch")


def test_a_signing_time_too_far_from_now_is_refused(client, db_session, people, products, outside):
    key, certificate = outside.card()
    document = draft(products)
    content = json.loads(payload_of(prepared(client, people, document)))
    content["issued_at"] = (now() - 10 * timedelta(minutes=1)).replace(microsecond=0).isoformat()
    token = sign(canonical_json(content), key, x5c(certificate), "ES256")

    refused(client, db_session, people, signed(document, token), 422, "signing_time_out_of_window")


def test_what_is_not_a_jws_is_refused(client, db_session, people, products, outside):
    refused(
        client,
        db_session,
        people,
        signed(draft(products), "a.b"),
        422,
        "external_signature_malformed",
    )


def test_a_signature_that_does_not_match_is_refused(client, db_session, people, products, outside):
    _, certificate = outside.card()
    other_key, _ = outside.card()
    document = signed_draft(client, people, products, other_key, certificate)

    refused(client, db_session, people, document, 422, "external_signature_mismatch")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"sigFormat": "application/pkcs7"}, "sigFormat"),
        (
            {"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.7"}]},
            "type",
        ),
        ({"data": "not base64!"}, "data"),
        ({"who": {"reference": "Practitioner/10009999996"}}, "requester"),
    ],
)
def test_a_signature_element_that_is_wrong_is_refused(
    client, db_session, people, products, outside, change, where
):
    key, certificate = outside.card()
    document = signed_draft(client, people, products, key, certificate)
    signature = document["entry"][-1]["resource"]["signature"][0]
    signature.update(change)

    outcome = refused(client, db_session, people, document, 422, "validation_failed")
    assert where in "\n".join(issue["diagnostics"] for issue in outcome["issue"])


def test_a_bundle_without_its_provenance_or_not_a_transaction_is_refused(
    client, db_session, people, products, outside
):
    refused(client, db_session, people, draft(products), 422, "validation_failed")
    key, certificate = outside.card()
    document = signed_draft(client, people, products, key, certificate)
    document["type"] = "collection"
    refused(client, db_session, people, document, 422, "validation_failed")
    document["type"] = "transaction"
    document["entry"][-1]["resource"]["target"] = document["entry"][-1]["resource"]["target"][:1]
    refused(client, db_session, people, document, 422, "validation_failed")


def test_what_is_not_fhir_json_is_refused(client, db_session, people):
    for body in (b"not json", b"[]", b'{"resourceType": "Patient"}'):
        response = client.post(FHIR, data=body, content_type=FHIR_JSON, headers=people["doctor"])
        assert response.status_code == 422, response.get_data(as_text=True)
        validated(response.get_json())
    assert prescriptions(db_session) == 0


# -- the contract -----------------------------------------------------------------------------


def test_the_capability_statement_and_the_openapi_document_list_issuing(client):
    statement = test_fhir.fhir_get(client, "/metadata")
    paths = client.get("/api/openapi.json").get_json()["paths"]

    (rest,) = statement["rest"]
    assert {"code": "transaction"} in [{"code": i["code"]} for i in rest.get("interaction", [])]
    (requests,) = [r for r in rest["resource"] if r["type"] == "MedicationRequest"]
    assert [o["name"] for o in requests["operation"]] == ["prepare"]
    assert (
        FHIR_JSON
        in paths[f"{FHIR}/MedicationRequest/$prepare"]["post"]["responses"]["200"]["content"]
    )
    issue = paths[FHIR]["post"]
    assert FHIR_JSON in issue["responses"]["200"]["content"]
    assert "Idempotency-Key" in [p["name"] for p in issue["parameters"]]

"""POST /fhir/r4/MedicationDispense on both engines: real signed prescriptions, real BDPM packs,
the JSON API's rules and receipts; every resource sent and received checked by an independent
validator (fhir.resources' R4B models, plus R4's required codes), the receipt by PyJWT."""

import base64
import json
import re
from datetime import date, timedelta

import jwt
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from eprescription.models import AuditEvent, Dispensation
from eprescription.services import verification
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_fhir
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PHARMACY_FINESS, operator
from tests.integration.test_dispensing_api import (
    count,
    dispense,
    item_quantities,
    pack_line,
    verified_with_pyjwt,
)
from tests.integration.test_health_space_api import name_representative
from tests.integration.test_prescriptions_api import PATIENT_NIR, issue

products = prescribing.products
people = prescribing.people
packs = dispensing.packs
pharmacist = dispensing.pharmacist
other_pharmacist = dispensing.other_pharmacist

URL = "/fhir/r4/MedicationDispense"
FHIR_JSON = "application/fhir+json"
OURS = "https://eprescription.example/fhir/StructureDefinition"
ACCESS_CODE = f"{OURS}/prescription-access-code"
IDENTITY_CONFIRMED = f"{OURS}/identity-confirmed"
COLLECTOR_KIND = f"{OURS}/collector-kind"
CIP_SYSTEM = test_fhir.CIP_SYSTEM
GTIN_SYSTEM = "https://www.gs1.org/gtin"
NIR_SYSTEM = test_fhir.NIR_SYSTEM

# R4 (4.0.1) required bindings the R4B models do not check, beyond those test_fhir checks.
BUNDLE_TYPES = {
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
}
HTTP_VERBS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
MIME_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
RESPONSE_STATUS = re.compile(r"^[1-5][0-9]{2}( |$)")


def checked(resource: dict) -> dict:
    """`resource` after the independent validator accepted it, with R4's required codes."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    for (resource_type, field), codes in test_fhir.R4_CODES.items():
        if kind == resource_type and kind != "Bundle":
            assert resource[field] in codes, (kind, field, resource[field])
    if kind == "Bundle":
        assert resource["type"] in BUNDLE_TYPES, resource["type"]
        for entry in resource.get("entry", []):
            if resource["type"] == "transaction":
                assert entry["request"]["method"] in HTTP_VERBS, entry
            if resource["type"] == "transaction-response":
                assert RESPONSE_STATUS.match(entry["response"]["status"]), entry
            checked(entry["resource"])
    for signature in resource.get("signature", []) if kind == "Provenance" else []:
        assert MIME_TYPE.match(signature["sigFormat"]), signature
        assert MIME_TYPE.match(signature["targetFormat"]), signature
    for contained in resource.get("contained", []):
        checked(contained)
    for problem in resource.get("issue", []):
        assert problem["severity"] == "error" and problem["code"] in test_fhir.ISSUE_TYPES
    return resource


def line_dispense(
    issued: dict,
    line: int,
    pack,
    quantity: int = 1,
    *,
    credentials: list[dict] | None = None,
    gtin: bool = False,
    **extra,
) -> dict:
    """A MedicationDispense of one pack line: the box's code, batch and expiry on a contained
    Medication (the only place R4 has a batch), the QR text as our extension."""
    reference = issued["id"] if line == 1 else f"{issued['id']}-{line}"
    coding = (
        {"system": GTIN_SYSTEM, "code": f"0{pack.cip13}"}
        if gtin
        else {"system": CIP_SYSTEM, "code": pack.cip13}
    )
    expiry = (date.today() + timedelta(days=400)).isoformat()
    resource = {
        "resourceType": "MedicationDispense",
        "extension": credentials
        if credentials is not None
        else [{"url": ACCESS_CODE, "valueString": issued["qr_text"]}],
        "contained": [
            {
                "resourceType": "Medication",
                "id": "pack",
                "code": {"coding": [coding]},
                "batch": {"lotNumber": "B1", "expirationDate": expiry},
            }
        ],
        "status": "completed",
        "medicationReference": {"reference": "#pack"},
        "authorizingPrescription": [{"reference": f"MedicationRequest/{reference}"}],
        "quantity": {"value": quantity, "unit": "pack"},
    }
    resource.update(extra)
    return resource


def transaction(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": resource, "request": {"method": "POST", "url": "MedicationDispense"}}
            for resource in resources
        ],
    }


def post(client, headers, document, *, key: str | None = None, check: bool = True):
    """POST `document` (checked by the validator first unless `check` is False)."""
    if check:
        checked(document)
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        URL,
        data=json.dumps(document),
        headers={**headers, **extra, "Content-Type": FHIR_JSON},
    )


def answered(response, status: int = 201) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    return checked(response.get_json())


def refused(response, status: int, code: str) -> dict:
    body = answered(response, status)
    issue_type, stable = test_fhir.outcome_code(body)
    assert stable == code, body
    assert issue_type in test_fhir.ISSUE_TYPES
    return body


def split(bundle: dict) -> tuple[list[dict], dict]:
    """The MedicationDispenses created and the receipt (the Provenance, last)."""
    assert bundle["type"] == "transaction-response"
    resources = [entry["resource"] for entry in bundle["entry"]]
    *dispenses, provenance = resources
    assert all(r["resourceType"] == "MedicationDispense" for r in dispenses)
    assert provenance["resourceType"] == "Provenance"
    return dispenses, provenance


def signed_receipt(client, provenance: dict) -> tuple[str, dict]:
    """The receipt's JWS from the Provenance and its content, checked by PyJWT with its x5c
    leaf, which a CA of the public trust list must have issued."""
    (signature,) = provenance["signature"]
    assert signature["sigFormat"] == "application/jose"
    jws = base64.b64decode(signature["data"]).decode()
    leaf = x509.load_der_x509_certificate(
        base64.b64decode(jwt.get_unverified_header(jws)["x5c"][0])
    )
    listed = client.get("/api/v1/trust/certificates").get_json()["authorities"]
    authorities = [x509.load_pem_x509_certificate(a["pem"].encode()) for a in listed]
    assert any(_issued_by(leaf, ca) for ca in authorities if a_ca(ca))
    return jws, verified_with_pyjwt(jws)


def a_ca(certificate) -> bool:
    return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def _issued_by(leaf, ca) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# -- dispensing ---------------------------------------------------------------------------------


def test_a_transaction_then_a_single_resource_dispense_partly_then_all_with_signed_receipts(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)

    first = answered(
        post(client, pharmacist, transaction(line_dispense(issued, 1, packs["doliprane"])))
    )
    dispensed, provenance = split(first)
    jws, receipt = signed_receipt(client, provenance)

    (line_1,) = dispensed
    assert line_1["authorizingPrescription"] == [{"reference": f"MedicationRequest/{issued['id']}"}]
    assert line_1["quantity"]["value"] == 1 and line_1["status"] == "completed"
    assert line_1["contained"][0]["code"]["coding"][0]["code"] == packs["doliprane"].cip13
    assert line_1["performer"][0]["actor"]["identifier"]["value"] == PHARMACY_FINESS
    assert provenance["target"] == [{"reference": f"MedicationDispense/{line_1['id']}"}]
    assert receipt["type"] == "eprescription.dispensation"
    assert receipt["prescription"]["number"] == issued["id"]
    assert [(r["line"], r["quantity"], r["cip13"]) for r in receipt["lines"]] == [
        (1, 1, packs["doliprane"].cip13)
    ]
    stored = db_session.get(Dispensation, receipt["id"])
    with operator(db_session) as uow:
        assert verification.verify_document(uow, jws, stored.payload).valid
    assert stored.jws == jws and line_1["identifier"][0]["value"] == receipt["id"]
    assert item_quantities(db_session, issued) == [1, 0]
    audited = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "dispense")).all()
    assert [(e.actor_role, e.object_id, e.outcome) for e in audited] == [
        ("pharmacist", issued["id"], "success")
    ]

    # One MedicationDispense alone is a dispensation too; the pack by its GTIN.
    second = answered(
        post(client, pharmacist, line_dispense(issued, 2, packs["amoxicilline"], 2, gtin=True))
    )
    (line_2,), provenance_2 = split(second)
    _, receipt_2 = signed_receipt(client, provenance_2)

    assert line_2["authorizingPrescription"][0]["reference"].endswith(f"{issued['id']}-2")
    assert receipt_2["lines"][0]["cip13"] == packs["amoxicilline"].cip13
    assert item_quantities(db_session, issued) == [1, 2]
    scan = client.post(dispensing.SCAN, json={"code": issued["qr_text"]}, headers=pharmacist)
    assert scan.get_json()["code"] == "prescription_completed"
    # What the FHIR read views show is what the creation answered.
    search = test_fhir.fhir_get(
        client, "/MedicationDispense", pharmacist, prescription=issued["id"]
    )
    assert [entry["resource"] for entry in search["entry"]] == [line_1, line_2]


def test_a_multi_line_transaction_is_one_dispensation_with_one_receipt_in_request_order(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    request = transaction(
        line_dispense(issued, 2, packs["amoxicilline"]),
        line_dispense(issued, 1, packs["doliprane"]),
    )

    dispensed, provenance = split(answered(post(client, pharmacist, request)))
    _, receipt = signed_receipt(client, provenance)

    assert [d["authorizingPrescription"][0]["reference"] for d in dispensed] == [
        f"MedicationRequest/{issued['id']}-2",
        f"MedicationRequest/{issued['id']}",
    ]
    assert [line["line"] for line in receipt["lines"]] == [2, 1]
    assert len(provenance["target"]) == 2
    assert count(db_session, Dispensation) == 1
    assert item_quantities(db_session, issued) == [1, 1]


def test_manual_entry_by_the_patients_nir_with_identity_checked_dispenses_too(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products, pickup_mode="private")
    manual = [{"url": IDENTITY_CONFIRMED, "valueBoolean": True}]
    resource = line_dispense(
        issued,
        1,
        packs["doliprane"],
        credentials=manual,
        subject={"identifier": {"system": NIR_SYSTEM, "value": PATIENT_NIR}},
    )

    dispensed, _ = split(answered(post(client, pharmacist, resource)))

    assert dispensed[0]["quantity"]["value"] == 1
    assert item_quantities(db_session, issued) == [1, 0]


def test_a_representative_named_as_receiver_collects_an_authorised_prescription(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products, pickup_mode="authorised")
    assert name_representative(client, people).status_code == 201
    representative_nir = people["other_patient_nir"]
    receiver = {
        "extension": [{"url": COLLECTOR_KIND, "valueCode": "representative"}],
        "identifier": {"system": NIR_SYSTEM, "value": representative_nir},
        "display": "Jeanne Martin",
    }

    bundle = answered(
        post(
            client,
            pharmacist,
            line_dispense(issued, 1, packs["doliprane"], receiver=[receiver]),
        )
    )
    (dispensed,), provenance = split(bundle)
    _, receipt = signed_receipt(client, provenance)

    assert receipt["collected_by"]["kind"] == "representative"
    assert dispensed["receiver"] == [{"display": "Jeanne Martin (the patient's representative)"}]


def test_by_number_and_nirs_the_receiver_is_the_one_at_the_counter(
    client, db_session, people, products, packs, pharmacist
):
    assert name_representative(client, people).status_code == 201
    lea = {"system": NIR_SYSTEM, "value": people["other_patient_nir"]}
    issued = issue(client, people, products, pickup_mode="authorised")
    subject = {"identifier": {"system": NIR_SYSTEM, "value": PATIENT_NIR}}
    checked_identity = [{"url": IDENTITY_CONFIRMED, "valueBoolean": True}]

    def by_number(kind: str):
        receiver = {"extension": [{"url": COLLECTOR_KIND, "valueCode": kind}], "identifier": lea}
        resource = line_dispense(
            issued,
            1,
            packs["doliprane"],
            credentials=checked_identity,
            subject=subject,
            receiver=[receiver],
        )
        return post(client, pharmacist, resource)

    stranger = by_number("other")
    representative = by_number("representative")

    refused(stranger, 403, "pickup_refused")
    (dispensed,), provenance = split(answered(representative))
    _, receipt = signed_receipt(client, provenance)
    assert receipt["collected_by"] == {"kind": "representative", "national_id": lea["value"]}
    assert dispensed["receiver"] == [{"display": "the patient's representative"}]
    assert item_quantities(db_session, issued) == [1, 0]


def test_two_boxes_of_one_line_from_two_batches_are_two_resources_of_one_dispensation(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    first = line_dispense(issued, 2, packs["amoxicilline"])
    second = line_dispense(issued, 2, packs["amoxicilline"])
    second["contained"][0]["batch"]["lotNumber"] = "B2"

    dispensed, provenance = split(answered(post(client, pharmacist, transaction(first, second))))
    _, receipt = signed_receipt(client, provenance)

    assert [d["contained"][0]["batch"]["lotNumber"] for d in dispensed] == ["B1", "B2"]
    assert [(line["line"], line["batch"]) for line in receipt["lines"]] == [(2, "B1"), (2, "B2")]
    assert item_quantities(db_session, issued) == [0, 2]


def test_the_location_reads_what_was_created_for_whoever_may_see_it_and_404_for_others(
    client, db_session, people, products, packs, pharmacist, other_pharmacist
):
    issued = issue(client, people, products)
    created = post(client, pharmacist, line_dispense(issued, 1, packs["doliprane"]))
    (dispensed,), _ = split(answered(created))
    location = created.headers["Location"]
    path = location.removeprefix("http://localhost/fhir/r4")

    assert path == f"/MedicationDispense/{dispensed['id']}"
    assert test_fhir.fhir_get(client, path, pharmacist) == dispensed
    assert test_fhir.fhir_get(client, path, people["patient"]) == dispensed
    assert test_fhir.fhir_get(client, path, people["doctor"]) == dispensed
    unseen = [
        test_fhir.fhir_get(client, path, headers, status=404)
        for headers in (other_pharmacist, people["other_patient"], people["other_doctor"])
    ]
    unknown = [
        test_fhir.fhir_get(client, f"/MedicationDispense/{wrong}", pharmacist, status=404)
        for wrong in (f"{'0' * 32}-1", f"{dispensed['id'][:-1]}9", "nothing")
    ]
    assert all(body == unknown[0] for body in unseen + unknown), unseen + unknown
    assert test_fhir.outcome_code(unknown[0]) == ("not-found", "not_found")
    reads = [
        (e.actor_role, e.outcome)
        for e in db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "read_dispensations")
            .order_by(AuditEvent.id)
        )
    ]
    assert reads[:3] == [
        ("pharmacist", "success"),
        ("patient", "success"),
        ("prescriber", "success"),
    ]
    assert ("patient", "success") not in reads[3:]


# -- refusals: the JSON API's codes, nothing written --------------------------------------------


def test_more_than_remains_is_refused_and_no_line_of_the_transaction_is_given(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    request = transaction(
        line_dispense(issued, 1, packs["doliprane"]),
        line_dispense(issued, 2, packs["amoxicilline"], 3),
    )

    refused(post(client, pharmacist, request), 409, "quantity_exceeds_remaining")

    assert count(db_session, Dispensation) == 0
    assert item_quantities(db_session, issued) == [0, 0]


def test_an_unknown_pack_on_the_second_line_leaves_the_first_undispensed(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    unknown = line_dispense(issued, 2, packs["amoxicilline"])
    unknown["contained"][0]["code"]["coding"][0]["code"] = "3400000000000"
    request = transaction(line_dispense(issued, 1, packs["doliprane"]), unknown)

    body = refused(post(client, pharmacist, request), 422, "validation_failed")

    # Field problems name the element of the request, here of its second MedicationDispense.
    assert [issue["diagnostics"] for issue in body["issue"][1:]] == [
        f"Bundle.entry[1].resource.medication (coding {CIP_SYSTEM}): "
        "no box has the CIP13 3400000000000 in the catalog"
    ]
    assert count(db_session, Dispensation) == 0
    assert item_quantities(db_session, issued) == [0, 0]


def test_a_wrong_access_code_gets_the_json_apis_answer_and_is_audited_alike(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    number, _, code = issued["qr_text"].rpartition(".")
    wrong = f"{number}.{'A' * len(code) if code[0] != 'A' else 'B' * len(code)}"
    credentials = [{"url": ACCESS_CODE, "valueString": wrong}]

    body = refused(
        post(
            client,
            pharmacist,
            line_dispense(issued, 1, packs["doliprane"], credentials=credentials),
        ),
        404,
        "prescription_not_found",
    )
    json_answer = dispense(
        client, pharmacist, issued, [pack_line(1, packs["doliprane"])], code=wrong
    ).get_json()

    assert body["issue"][0]["diagnostics"] == f"prescription_not_found: {json_answer['detail']}"
    outcomes = db_session.scalars(
        select(AuditEvent.outcome).where(AuditEvent.action == "dispense").order_by(AuditEvent.id)
    ).all()
    assert outcomes == ["wrong_code", "wrong_code"]
    assert count(db_session, Dispensation) == 0


def test_another_pharmacy_dispenses_the_rest_and_each_sees_only_its_own(
    client, db_session, people, products, packs, pharmacist, other_pharmacist
):
    issued = issue(client, people, products)
    answered(post(client, pharmacist, line_dispense(issued, 1, packs["doliprane"])))

    (theirs,), provenance = split(
        answered(post(client, other_pharmacist, line_dispense(issued, 2, packs["amoxicilline"], 2)))
    )
    again = post(client, other_pharmacist, line_dispense(issued, 2, packs["amoxicilline"]))

    assert provenance["agent"][0]["who"]["identifier"]["value"] != PHARMACY_FINESS
    refused(again, 409, "prescription_completed")
    seen = test_fhir.fhir_get(
        client, "/MedicationDispense", other_pharmacist, prescription=issued["id"]
    )
    assert [entry["resource"] for entry in seen["entry"]] == [theirs]


def test_a_replay_gets_the_first_answer_byte_for_byte_and_another_body_is_refused(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    request = transaction(line_dispense(issued, 1, packs["doliprane"]))

    first = post(client, pharmacist, request, key="fhir-retry-1")
    again = post(client, pharmacist, request, key="fhir-retry-1")
    other = post(
        client,
        pharmacist,
        transaction(line_dispense(issued, 2, packs["amoxicilline"])),
        key="fhir-retry-1",
    )

    assert first.status_code == again.status_code == 201
    assert first.data == again.data and again.mimetype == FHIR_JSON
    refused(other, 422, "idempotency_key_reused")
    assert count(db_session, Dispensation) == 1
    assert item_quantities(db_session, issued) == [1, 0]


def _without(resource: dict, name: str) -> dict:
    return {key: value for key, value in resource.items() if key != name}


BAD_REQUESTS = {
    "not a resource": lambda issued, pack: ["MedicationDispense"],
    "another resource": lambda issued, pack: {"resourceType": "Patient"},
    "a batch, not a transaction": lambda issued, pack: {
        **transaction(line_dispense(issued, 1, pack)),
        "type": "batch",
    },
    "an empty transaction": lambda issued, pack: {**transaction(), "entry": []},
    "a PUT entry": lambda issued, pack: {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": line_dispense(issued, 1, pack),
                "request": {"method": "PUT", "url": "MedicationDispense/1"},
            }
        ],
    },
    "in progress": lambda issued, pack: line_dispense(issued, 1, pack, status="in-progress"),
    "a modifier extension": lambda issued, pack: line_dispense(
        issued, 1, pack, modifierExtension=[{"url": "https://x.example/e", "valueBoolean": True}]
    ),
    "no prescription": lambda issued, pack: _without(
        line_dispense(issued, 1, pack), "authorizingPrescription"
    ),
    "tablets, not packs": lambda issued, pack: line_dispense(
        issued, 1, pack, quantity={"value": 30, "unit": "tablet"}
    ),
    "no access code nor patient": lambda issued, pack: line_dispense(
        issued, 1, pack, credentials=[]
    ),
    "no batch": lambda issued, pack: {
        **_without(_without(line_dispense(issued, 1, pack), "contained"), "medicationReference"),
        "medicationCodeableConcept": {"coding": [{"system": CIP_SYSTEM, "code": pack.cip13}]},
    },
    "a code of no known system": lambda issued, pack: line_dispense(
        issued,
        1,
        pack,
        contained=[{"resourceType": "Medication", "id": "pack", "code": {"text": "doliprane"}}],
    ),
    "a patient named by another identifier": lambda issued, pack: line_dispense(
        issued,
        1,
        pack,
        credentials=[],
        subject={"identifier": {"system": "urn:oid:1.2.3.4", "value": PATIENT_NIR}},
    ),
    "lines of two prescriptions": lambda issued, pack: transaction(
        line_dispense(issued, 1, pack),
        line_dispense(
            issued,
            2,
            pack,
            authorizingPrescription=[{"reference": "MedicationRequest/H24VYEBTSCH"}],
        ),
    ),
    "lines with different access codes": lambda issued, pack: transaction(
        line_dispense(issued, 1, pack),
        line_dispense(
            issued, 2, pack, credentials=[{"url": ACCESS_CODE, "valueString": "EP1.X.Y"}]
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_a_request_not_as_documented_is_refused_with_an_outcome_and_nothing_is_written(
    client, db_session, people, products, packs, pharmacist, case
):
    issued = issue(client, people, products)
    document = BAD_REQUESTS[case](issued, packs["doliprane"])

    body = refused(post(client, pharmacist, document, check=False), 422, "validation_failed")

    named = [issue["diagnostics"].partition(":")[0] for issue in body["issue"][1:]]
    assert named and all(
        n.startswith(("Bundle", "MedicationDispense", "resourceType")) for n in named
    )
    assert count(db_session, Dispensation) == 0
    assert item_quantities(db_session, issued) == [0, 0]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)


def _leaves(value, path=()):
    """Every path into a JSON value, the root included."""
    yield path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        yield from _leaves(inner, (*path, key))


def _replaced(document, path, value):
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def test_any_element_replaced_by_any_json_gets_an_outcome_never_a_server_error(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    valid = transaction(line_dispense(issued, 1, packs["doliprane"]))
    paths = list(_leaves(valid))

    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(path=st.sampled_from(paths), value=JSON)
    def send(path, value):
        response = post(client, pharmacist, _replaced(valid, path, value), check=False)
        assert response.status_code < 500, response.get_data(as_text=True)
        assert response.mimetype == FHIR_JSON
        checked(response.get_json())

    send()


def test_only_pharmacists_dispense(client, people, products, packs):
    issued = issue(client, people, products)
    resource = line_dispense(issued, 1, packs["doliprane"])

    refused(post(client, {}, resource), 401, "authentication_required")
    refused(post(client, people["doctor"], resource), 403, "permission_denied")


# -- what the service says about it -------------------------------------------------------------


def test_the_capability_statement_lists_the_create_and_the_document_the_retry_header(client):
    capability = test_fhir.fhir_get(client, "/metadata")
    (dispense_resource,) = [
        r for r in capability["rest"][0]["resource"] if r["type"] == "MedicationDispense"
    ]
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"][URL]["post"]

    assert {"code": "create"} in dispense_resource["interaction"]
    assert ACCESS_CODE in dispense_resource["documentation"]
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert FHIR_JSON in operation["requestBody"]["content"]
    assert "201" in operation["responses"]

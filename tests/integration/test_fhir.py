"""/fhir/r4 on both engines: real signed prescriptions, real BDPM packs, and every resource
checked by an independent validator (fhir.resources' R4B models, plus R4's required codes)."""

from datetime import date, timedelta

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from eprescription.domain.prescription_codes import display_number, new_number
from eprescription.models import AuditEvent
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PHARMACY_FINESS
from tests.integration.signed_rows import signed_with_validity
from tests.integration.test_dispensing_api import dispense, pack_line, princeps_items
from tests.integration.test_health_space_api import name_representative
from tests.integration.test_prescriptions_api import PATIENT_NIR, PIN, issue

products = prescribing.products
people = prescribing.people
packs = dispensing.packs
generic_group = dispensing.generic_group
pharmacist = dispensing.pharmacist
other_pharmacist = dispensing.other_pharmacist

FHIR = "/fhir/r4"
FHIR_JSON = "application/fhir+json"
NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
FINESS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
CIS_SYSTEM = "urn:oid:1.2.250.1.213.2.3.1"
CIP_SYSTEM = "urn:oid:1.2.250.1.213.2.3.2"
NUMBER_SYSTEM = "https://eprescription.example/fhir/sid/prescription-number"

# R4 (4.0.1) required bindings, which the R4B models type as plain codes and do not check.
R4_CODES = {
    ("MedicationRequest", "status"): {
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    },
    ("MedicationRequest", "intent"): {
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    },
    ("MedicationDispense", "status"): {
        "preparation",
        "in-progress",
        "cancelled",
        "on-hold",
        "completed",
        "entered-in-error",
        "stopped",
        "declined",
        "unknown",
    },
    ("Bundle", "type"): {"searchset"},
    ("CapabilityStatement", "fhirVersion"): {"4.0.1"},
}
ISSUE_TYPES = {
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "security",
    "login",
    "unknown",
    "expired",
    "forbidden",
    "suppressed",
    "processing",
    "not-supported",
    "duplicate",
    "multiple-matches",
    "not-found",
    "deleted",
    "too-long",
    "code-invalid",
    "extension",
    "too-costly",
    "business-rule",
    "conflict",
    "transient",
    "lock-error",
    "no-store",
    "exception",
    "timeout",
    "incomplete",
    "throttled",
    "informational",
}


def validated(resource: dict) -> dict:
    """`resource` after the independent validator accepted it (raises otherwise)."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    for (resource_type, field), codes in R4_CODES.items():
        if kind == resource_type:
            assert resource[field] in codes, (kind, field, resource[field])
    for entry in resource.get("entry", []):
        validated(entry["resource"])
    for problem in resource.get("issue", []):
        assert problem["severity"] == "error" and problem["code"] in ISSUE_TYPES, problem
    return resource


def fhir_get(client, path, headers=None, status=200, **query) -> dict:
    response = client.get(f"{FHIR}{path}", headers=headers or {}, query_string=query)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    return validated(response.get_json())


def outcome_code(body: dict) -> tuple[str, str]:
    """The issue type and our stable code of an OperationOutcome."""
    issue = body["issue"][0]
    assert body["resourceType"] == "OperationOutcome"
    return issue["code"], issue["details"]["coding"][0]["code"]


def events(session, action: str) -> list[AuditEvent]:
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def entries(bundle: dict) -> list[dict]:
    assert bundle["type"] == "searchset" and bundle["total"] == len(bundle["entry"])
    return [entry["resource"] for entry in bundle["entry"]]


# -- MedicationRequest --------------------------------------------------------------------------


def test_a_two_line_prescription_is_two_medication_requests_linked_by_group_identifier(
    client, people, products
):
    issued = issue(client, people, products, renewals=2)
    number = issued["id"]

    first = fhir_get(client, f"/MedicationRequest/{number}", people["patient"])
    second = fhir_get(client, f"/MedicationRequest/{number}-2", people["doctor"])
    grouped = fhir_get(client, f"/MedicationRequest/{display_number(number)}-2", people["doctor"])
    bundle = fhir_get(
        client, "/MedicationRequest", people["patient"], **{"group-identifier": number}
    )

    assert (first["id"], second["id"], grouped["id"]) == (number, f"{number}-2", f"{number}-2")
    assert entries(bundle) == [first, second]
    assert [e["fullUrl"] for e in bundle["entry"]] == [
        f"http://localhost{FHIR}/MedicationRequest/{number}",
        f"http://localhost{FHIR}/MedicationRequest/{number}-2",
    ]
    for line, request in enumerate((first, second), 1):
        assert request["groupIdentifier"] == {"system": NUMBER_SYSTEM, "value": number}
        assert request["identifier"][0]["value"] == f"{number}-{line}"
        assert (request["status"], request["intent"]) == ("active", "order")
        assert request["subject"]["identifier"] == {"system": NIR_SYSTEM, "value": PATIENT_NIR}
        assert request["requester"]["identifier"] == {"system": RPPS_SYSTEM, "value": "10001234565"}
        assert request["authoredOn"] == issued["issued_at"]
        assert request["dispenseRequest"]["validityPeriod"] == {
            "start": issued["valid_from"],
            "end": issued["valid_until"],
        }
        assert request["dispenseRequest"]["numberOfRepeatsAllowed"] == 2
    doliprane = first["medicationCodeableConcept"]["coding"][0]
    assert (doliprane["system"], doliprane["code"]) == (CIS_SYSTEM, products["doliprane"])
    assert first["dosageInstruction"] == [
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
    ]
    assert first["substitution"] == {"allowedBoolean": True}
    assert second["dosageInstruction"] == [
        {"sequence": 1, "text": "1 g matin et soir pendant 6 jours"}
    ]
    assert second["dispenseRequest"]["quantity"] == {"value": 2, "unit": "pack"}
    assert second["substitution"]["allowedBoolean"] is False
    assert second["substitution"]["reason"]["coding"][0]["code"] == "CIF"


def test_a_line_by_active_substance_carries_the_substance_strength_and_form(
    client, people, products
):
    substance = products["paracetamol"]
    item = {"substance": substance, "dosage_text": "1 comprimé 3 fois par jour", "quantity": 1}
    issued = issue(client, people, products, items=[item])

    request = fhir_get(client, f"/MedicationRequest/{issued['id']}", people["doctor"])

    coding = request["medicationCodeableConcept"]["coding"][0]
    assert coding["code"] == substance["code"]
    assert substance["strength"] in coding["display"] and substance["form"] in coding["display"]
    assert request["substitution"] == {"allowedBoolean": True}


def test_line_statuses_follow_dispensing_cancellation_and_expiry(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    number = issued["id"]
    given = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    assert given.status_code == 201, given.get_data(as_text=True)
    cancelled = client.post(
        f"/api/v1/prescriptions/{number}/cancel",
        json={"pin": PIN, "reason": "allergie signalée", "lines": [2]},
        headers=people["doctor"],
    )
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)
    lapsed = issue(client, people, products)
    past = date.today() - timedelta(days=10)
    signed_with_validity(db_session, lapsed["id"], past - timedelta(days=30), past)

    closed = entries(
        fhir_get(client, "/MedicationRequest", people["doctor"], **{"group-identifier": number})
    )
    expired = entries(
        fhir_get(
            client,
            "/MedicationRequest",
            people["patient"],
            **{"group-identifier": f"{NUMBER_SYSTEM}|{lapsed['id']}"},
        )
    )

    assert [r["status"] for r in closed] == ["completed", "cancelled"]
    assert closed[1]["statusReason"] == {"text": "allergie signalée"}
    assert [r["status"] for r in expired] == ["stopped", "stopped"]
    assert expired[0]["statusReason"]["text"] == f"expired (valid until {past.isoformat()})"


# -- MedicationDispense -------------------------------------------------------------------------


def test_dispensed_and_reversed_lines_with_pack_batch_pharmacy_and_collector(
    client, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    number = issued["id"]
    expiry = (date.today() + timedelta(days=400)).isoformat()
    first = dispense(
        client,
        pharmacist,
        issued,
        [pack_line(1, packs["doliprane"], batch="LOT-D1")],
        collected_by={"kind": "other", "name": "Voisin"},
    )
    assert first.status_code == 201, first.get_data(as_text=True)
    second = dispense(client, pharmacist, issued, [pack_line(2, packs["amoxicilline"], 2)])
    assert second.status_code == 201, second.get_data(as_text=True)
    reversal = client.post(
        f"/api/v1/dispensations/{second.get_json()['id']}/reversal",
        json={"reason": "mauvaise boîte"},
        headers=pharmacist,
    )
    assert reversal.status_code == 200, reversal.get_data(as_text=True)

    given, undone = entries(
        fhir_get(client, "/MedicationDispense", people["patient"], prescription=number)
    )

    assert (given["status"], undone["status"]) == ("completed", "entered-in-error")
    assert "mauvaise boîte" in undone["statusReasonCodeableConcept"]["text"]
    for dispense_, pack, line_id in (
        (given, packs["doliprane"], number),
        (undone, packs["amoxicilline"], f"{number}-2"),
    ):
        medication = dispense_["contained"][0]
        assert dispense_["medicationReference"] == {"reference": f"#{medication['id']}"}
        assert medication["code"]["coding"][0]["system"] == CIP_SYSTEM
        assert medication["code"]["coding"][0]["code"] == pack.cip13
        assert medication["batch"]["expirationDate"] == expiry
        assert dispense_["authorizingPrescription"] == [
            {"reference": f"MedicationRequest/{line_id}"}
        ]
        assert dispense_["performer"][0]["actor"]["identifier"] == {
            "system": FINESS_SYSTEM,
            "value": PHARMACY_FINESS,
        }
        assert dispense_["subject"]["identifier"]["value"] == PATIENT_NIR
        assert dispense_["substitution"] == {"wasSubstituted": False}
    assert given["contained"][0]["batch"]["lotNumber"] == "LOT-D1"
    assert (given["quantity"]["value"], undone["quantity"]["value"]) == (1, 2)
    assert given["whenHandedOver"] == first.get_json()["issued_at"]
    assert given["receiver"] == [{"display": "Voisin (someone else)"}]
    assert "receiver" not in undone
    one_line = fhir_get(
        client,
        "/MedicationDispense",
        people["doctor"],
        prescription=f"MedicationRequest/{number}-2",
    )
    assert entries(one_line) == [undone]


def test_a_generic_given_for_a_substitutable_line_is_a_substitution(
    client, people, products, generic_group, pharmacist
):
    issued = issue(client, people, products, items=princeps_items(generic_group))
    generic = generic_group["generic_pack"]
    given = dispense(client, pharmacist, issued, [pack_line(1, generic)])
    assert given.status_code == 201, given.get_data(as_text=True)

    (substituted,) = entries(
        fhir_get(client, "/MedicationDispense", pharmacist, prescription=issued["id"])
    )

    assert substituted["contained"][0]["code"]["coding"][0]["code"] == generic.cip13
    assert substituted["substitution"]["wasSubstituted"] is True
    assert substituted["substitution"]["type"]["coding"][0]["code"] == "G"


def test_a_pharmacist_sees_only_the_dispensations_of_their_own_pharmacy(
    client, people, products, packs, pharmacist, other_pharmacist
):
    issued = issue(client, people, products)
    assert (
        dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).status_code == 201
    )
    line_2 = [pack_line(2, packs["amoxicilline"])]
    assert dispense(client, other_pharmacist, issued, line_2).status_code == 201

    ours = entries(fhir_get(client, "/MedicationDispense", pharmacist, prescription=issued["id"]))
    theirs = entries(
        fhir_get(client, "/MedicationDispense", other_pharmacist, prescription=issued["id"])
    )
    everything = entries(
        fhir_get(client, "/MedicationDispense", people["doctor"], prescription=issued["id"])
    )

    assert [d["authorizingPrescription"][0]["reference"] for d in ours] == [
        f"MedicationRequest/{issued['id']}"
    ]
    assert [d["authorizingPrescription"][0]["reference"] for d in theirs] == [
        f"MedicationRequest/{issued['id']}-2"
    ]
    assert everything == ours + theirs


def test_a_representative_reads_the_medication_requests_of_the_person_they_represent(
    client, db_session, people, products
):
    issued = issue(client, people, products)
    path = f"/MedicationRequest/{issued['id']}"
    before = fhir_get(client, path, people["other_patient"], 404)
    assert name_representative(client, people).status_code == 201

    request = fhir_get(client, path, people["other_patient"])

    assert outcome_code(before) == ("not-found", "not_found")
    assert request["subject"]["identifier"]["value"] == PATIENT_NIR
    assert [(e.actor_role, e.outcome) for e in events(db_session, "read")] == [
        ("patient", "denied"),
        ("representative", "success"),
    ]


def test_a_representative_reads_the_dispensations_of_the_person_they_represent(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    before = fhir_get(
        client, "/MedicationDispense", people["other_patient"], 404, prescription=issued["id"]
    )
    assert name_representative(client, people).status_code == 201

    bundle = fhir_get(
        client, "/MedicationDispense", people["other_patient"], prescription=issued["id"]
    )

    assert outcome_code(before) == ("not-found", "not_found")
    assert len(entries(bundle)) == 1
    assert [(e.actor_role, e.outcome) for e in events(db_session, "read_dispensations")] == [
        ("patient", "denied"),
        ("representative", "success"),
    ]


# -- access, errors, audit ----------------------------------------------------------------------


def test_whoever_may_not_see_a_prescription_gets_the_404_of_an_unknown_number(
    client, people, products, packs, pharmacist, other_pharmacist
):
    issued = issue(client, people, products)
    dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    unknown = new_number()
    cases = [
        ("/MedicationRequest/{}", {}, people["other_patient"]),
        ("/MedicationRequest/{}", {}, people["other_doctor"]),
        ("/MedicationRequest", {"group-identifier": "{}"}, people["other_patient"]),
        ("/MedicationDispense", {"prescription": "{}"}, people["other_patient"]),
        ("/MedicationDispense", {"prescription": "{}"}, people["other_doctor"]),
        ("/MedicationDispense", {"prescription": "{}"}, other_pharmacist),
    ]
    for path, query, headers in cases:
        seen, missing = (
            client.get(
                FHIR + path.format(number),
                headers=headers,
                query_string={k: v.format(number) for k, v in query.items()},
            )
            for number in (issued["id"], unknown)
        )
        assert (seen.status_code, missing.status_code) == (404, 404), path
        assert seen.mimetype == missing.mimetype == FHIR_JSON
        assert seen.get_json() == missing.get_json(), path
        assert outcome_code(validated(seen.get_json())) == ("not-found", "not_found")


def test_no_token_is_401_and_a_pharmacist_reading_a_medication_request_is_403(
    client, people, products, pharmacist
):
    issued = issue(client, people, products)

    anonymous = client.get(f"{FHIR}/MedicationRequest/{issued['id']}")
    bad_scheme = client.get(
        f"{FHIR}/MedicationDispense",
        query_string={"prescription": issued["id"]},
        headers={"Authorization": "Basic abc"},
    )
    forbidden = client.get(f"{FHIR}/MedicationRequest/{issued['id']}", headers=pharmacist)

    for response in (anonymous, bad_scheme):
        assert response.status_code == 401 and response.mimetype == FHIR_JSON
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert outcome_code(validated(response.get_json())) == ("login", "authentication_required")
    assert forbidden.status_code == 403
    assert outcome_code(validated(forbidden.get_json())) == ("forbidden", "permission_denied")


@pytest.mark.parametrize(
    ("path", "query", "status", "codes"),
    [
        ("/MedicationRequest/NOT-A-NUMBER", {}, 422, ("invalid", "invalid_prescription_number")),
        ("/MedicationRequest/{}-1", {}, 404, ("not-found", "not_found")),
        ("/MedicationRequest/{}-3", {}, 404, ("not-found", "not_found")),
        ("/MedicationRequest", {}, 422, ("invalid", "validation_failed")),
        (
            "/MedicationRequest",
            {"group-identifier": "urn:x|{}"},
            422,
            ("invalid", "validation_failed"),
        ),
        ("/MedicationDispense", {}, 422, ("invalid", "validation_failed")),
        ("/MedicationDispense", {"prescription": "x" * 81}, 422, ("invalid", "validation_failed")),
        ("/Patient/no-such-id", {}, 404, ("not-found", "not_found")),
    ],
)
def test_bad_requests_get_a_clear_operation_outcome(
    client, people, products, path, query, status, codes
):
    number = issue(client, people, products)["id"]

    response = client.get(
        FHIR + path.format(number),
        headers=people["doctor"],
        query_string={k: v.format(number) for k, v in query.items()},
    )

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    body = validated(response.get_json())
    assert outcome_code(body) == codes
    assert body["issue"][0]["diagnostics"].startswith(f"{codes[1]}: ")


def test_every_read_is_audited_in_the_log_the_patient_sees(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])

    fhir_get(client, f"/MedicationRequest/{issued['id']}-2", people["patient"])
    fhir_get(client, "/MedicationRequest", people["doctor"], **{"group-identifier": issued["id"]})
    fhir_get(client, "/MedicationDispense", pharmacist, prescription=issued["id"])
    client.get(f"{FHIR}/MedicationRequest/{issued['id']}", headers=people["other_patient"])

    reads = [(e.actor_role, e.object_id, e.outcome) for e in events(db_session, "read")]
    assert reads == [
        ("patient", issued["id"], "success"),
        ("prescriber", issued["id"], "success"),
        ("patient", issued["id"], "denied"),
    ]
    (dispensations,) = events(db_session, "read_dispensations")
    assert (dispensations.actor_role, dispensations.outcome) == ("pharmacist", "success")
    assert PHARMACY_FINESS in dispensations.organisation
    log = client.get("/api/v1/me/access-log", headers=people["patient"]).get_json()
    assert "read_dispensations" in [entry["action"] for entry in log["items"]]


def test_the_capability_statement_and_the_openapi_document_list_the_fhir_views(client):
    statement = fhir_get(client, "/metadata")
    paths = client.get("/api/openapi.json").get_json()["paths"]

    (rest,) = statement["rest"]
    assert {r["type"]: [i["code"] for i in r["interaction"]] for r in rest["resource"]} == {
        "MedicationRequest": ["read", "search-type"],
        "MedicationDispense": ["read", "search-type", "create"],
        "Patient": ["read"],
        "Practitioner": ["read"],
        "Organization": ["read"],
        "Subscription": ["create", "read", "search-type", "delete"],
    }
    params = {r["type"]: [p["name"] for p in r.get("searchParam", [])] for r in rest["resource"]}
    by_patient = ["patient.identifier", "status", "_count", "page"]
    assert params["MedicationRequest"] == ["group-identifier", *by_patient]
    assert params["MedicationDispense"] == ["prescription", *by_patient]
    assert statement["format"] == [FHIR_JSON]
    gets = (
        "/metadata",
        "/MedicationRequest/{resource_id}",
        "/MedicationRequest",
        "/MedicationDispense",
        "/Patient/{patient_id}",
        "/Practitioner/{rpps}",
        "/Organization/{finess}",
    )
    for path in gets:
        assert FHIR_JSON in paths[FHIR + path]["get"]["responses"]["200"]["content"]
    for path in ("/MedicationRequest/_search", "/MedicationDispense/_search"):
        assert FHIR_JSON in paths[FHIR + path]["post"]["responses"]["200"]["content"]

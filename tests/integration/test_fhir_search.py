"""FHIR search by patient (GET and POST _search), Practitioner and Organization reads, on both
engines: who finds what, status and paging, the audit, validation, and no NIR in any log."""

import http.client

from tests.gunicorn_server import gunicorn
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_fhir as fhir
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PHARMACY_FINESS
from tests.integration.test_dispensing_api import dispense, pack_line
from tests.integration.test_fhir import FHIR, FHIR_JSON, NIR_SYSTEM, entries, events, validated
from tests.integration.test_health_space_api import name_representative
from tests.integration.test_prescriptions_api import PATIENT_NIR, PIN, body, issue
from tests.integration.test_secrets_in_logs import LEAKY_FORMAT

products = prescribing.products
people = prescribing.people
packs = dispensing.packs
pharmacist = dispensing.pharmacist
other_pharmacist = dispensing.other_pharmacist

BY_PATIENT = {"patient.identifier": f"{NIR_SYSTEM}|{PATIENT_NIR}"}
UNKNOWN_NIR = prescribing.make_nir("1991275056999")


def search(client, resource, headers, expected=200, **query) -> dict:
    """A search by patient (BY_PATIENT unless `query` names another), validated."""
    response = client.get(
        f"{FHIR}/{resource}", headers=headers, query_string={**BY_PATIENT, **query}
    )
    assert response.status_code == expected, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    return validated(response.get_json())


def post_search(client, resource, headers, form: dict, status=200) -> dict:
    response = client.post(f"{FHIR}/{resource}/_search", data=form, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    return validated(response.get_json())


def numbers(bundle: dict) -> list[str]:
    return [r["groupIdentifier"]["value"] for r in entries(bundle)]


def issue_by_other_doctor(client, people, products) -> dict:
    response = client.post(
        "/api/v1/prescriptions", json=body(products), headers=people["other_doctor"]
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_the_patient_finds_every_line_of_their_prescriptions_newest_first(
    client, db_session, people, products
):
    first = issue(client, people, products)
    second = issue_by_other_doctor(client, people, products)

    bundle = search(client, "MedicationRequest", people["patient"])

    assert bundle["total"] == 4
    assert numbers(bundle) == [second["id"], second["id"], first["id"], first["id"]]
    assert bundle["entry"][0]["fullUrl"].endswith(f"{FHIR}/MedicationRequest/{second['id']}")
    requester = entries(bundle)[0]["requester"]
    assert requester["reference"].startswith("Practitioner/")
    listed = [(e.actor_role, e.object_id, e.outcome) for e in events(db_session, "list")]
    assert sorted(listed) == sorted(
        [("patient", second["id"], "success"), ("patient", first["id"], "success")]
    )


def test_a_prescriber_finds_only_the_prescriptions_they_wrote(client, people, products):
    mine = issue(client, people, products)
    theirs = issue_by_other_doctor(client, people, products)

    assert set(numbers(search(client, "MedicationRequest", people["doctor"]))) == {mine["id"]}
    assert set(numbers(search(client, "MedicationRequest", people["other_doctor"]))) == {
        theirs["id"]
    }


def test_another_patient_sees_nothing_until_they_represent_the_patient(
    client, db_session, people, products
):
    issued = issue(client, people, products)
    before = search(client, "MedicationRequest", people["other_patient"])
    assert name_representative(client, people).status_code == 201

    after = search(client, "MedicationRequest", people["other_patient"])

    assert before["total"] == 0 and "entry" not in before
    assert set(numbers(after)) == {issued["id"]}
    assert [e.actor_role for e in events(db_session, "list")] == ["representative"]
    (refused,) = events(db_session, "lookup")
    assert (refused.object_type, refused.outcome) == ("person", "denied")


def test_a_forbidden_nir_answers_exactly_as_an_unknown_one(client, people, products):
    issue(client, people, products)
    for resource in ("MedicationRequest", "MedicationDispense"):
        for headers in (people["other_patient"], people["other_doctor"]):
            seen = search(client, resource, headers)
            unknown = search(
                client, resource, headers, **{"patient.identifier": f"{NIR_SYSTEM}|{UNKNOWN_NIR}"}
            )
            for bundle in (seen, unknown):
                for link in bundle["link"]:
                    link["url"] = link["url"].replace(PATIENT_NIR, "N").replace(UNKNOWN_NIR, "N")
            assert seen == unknown
            assert seen["total"] == 0 and "entry" not in seen


def test_the_status_filter_and_paging(client, people, products, packs, pharmacist):
    issued = issue(client, people, products)
    other = issue(client, people, products)
    cancelled = client.post(
        f"/api/v1/prescriptions/{other['id']}/cancel",
        json={"pin": PIN, "reason": "erreur de saisie"},
        headers=people["doctor"],
    )
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)

    active = search(client, "MedicationRequest", people["patient"], status="active")
    closed = search(client, "MedicationRequest", people["patient"], status="cancelled,completed")
    page_1 = search(client, "MedicationRequest", people["patient"], _count=3)
    page_2 = search(client, "MedicationRequest", people["patient"], _count=3, page=2)

    assert numbers(active) == [issued["id"]] * 2
    assert numbers(closed) == [other["id"]] * 2
    assert {r["status"] for r in entries(closed)} == {"cancelled"}
    assert page_1["total"] == page_2["total"] == 4
    assert len(page_1["entry"]) == 3 and len(page_2["entry"]) == 1
    relations = {link["relation"] for link in page_1["link"]}
    assert relations == {"self", "first", "next"}
    assert {link["relation"] for link in page_2["link"]} == {"self", "first", "previous"}


def test_dispenses_by_patient_for_patient_and_prescriber_audited_as_read_dispensations(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    issue(client, people, products)  # nothing dispensed: not in the audit of the page

    own = search(client, "MedicationDispense", people["patient"])
    prescriber = search(client, "MedicationDispense", people["doctor"], status="completed")
    reversed_only = search(
        client, "MedicationDispense", people["doctor"], status="entered-in-error"
    )

    assert own["total"] == prescriber["total"] == 1
    assert reversed_only["total"] == 0
    performer = entries(own)[0]["performer"][0]["actor"]
    assert performer["reference"] == f"Organization/{PHARMACY_FINESS}"
    audited = [(e.actor_role, e.object_id) for e in events(db_session, "read_dispensations")]
    assert audited == [("patient", issued["id"]), ("prescriber", issued["id"])]


def test_pharmacists_and_anonymous_callers_are_refused(client, people, products, pharmacist):
    issue(client, people, products)

    dispenses = search(client, "MedicationDispense", pharmacist, 403)
    requests = search(client, "MedicationRequest", pharmacist, 403)
    anonymous = client.get(f"{FHIR}/MedicationRequest", query_string=BY_PATIENT)

    assert fhir.outcome_code(dispenses) == ("forbidden", "permission_denied")
    assert "card-lookup" in dispenses["issue"][0]["diagnostics"]
    assert fhir.outcome_code(requests) == ("forbidden", "permission_denied")
    assert anonymous.status_code == 401
    refused = fhir.outcome_code(validated(anonymous.get_json()))
    assert refused == ("login", "authentication_required")


def test_post_search_takes_the_parameters_in_a_form_body(client, db_session, people, products):
    issued = issue(client, people, products)

    requests = post_search(client, "MedicationRequest", people["patient"], BY_PATIENT)
    dispenses = post_search(client, "MedicationDispense", people["doctor"], BY_PATIENT)
    by_number = post_search(
        client, "MedicationRequest", people["doctor"], {"group-identifier": issued["id"]}
    )

    assert numbers(requests) == numbers(by_number) == [issued["id"]] * 2
    assert dispenses["total"] == 0 and "entry" not in dispenses
    assert [e.actor_role for e in events(db_session, "list")] == ["patient"]


def test_bad_search_parameters_get_an_operation_outcome_without_the_nir(client, people):
    cases = [
        {},
        {**BY_PATIENT, "group-identifier": "X"},
        {"patient.identifier": f"urn:x|{PATIENT_NIR}"},
        {"patient.identifier": PATIENT_NIR[:-1]},
        {**BY_PATIENT, "status": "active,draft"},
        {**BY_PATIENT, "_count": "0"},
        {**BY_PATIENT, "page": "0"},
    ]
    for query in cases:
        response = client.get(
            f"{FHIR}/MedicationRequest", headers=people["patient"], query_string=query
        )
        assert response.status_code == 422, (query, response.get_data(as_text=True))
        text = response.get_data(as_text=True)
        assert PATIENT_NIR[:-1] not in text, query
        assert fhir.outcome_code(validated(response.get_json()))[0] == "invalid"


def test_practitioner_and_organization_reads_for_professionals(
    client, people, products, pharmacist
):
    issued = issue(client, people, products)
    request = search(client, "MedicationRequest", people["patient"])["entry"][0]["resource"]
    rpps = request["requester"]["identifier"]["value"]
    assert issued["id"] == request["groupIdentifier"]["value"]

    doctor = fhir.fhir_get(client, f"/{request['requester']['reference']}", pharmacist)
    pharmacy = fhir.fhir_get(client, f"/Organization/{PHARMACY_FINESS}", people["doctor"])
    missing = fhir.fhir_get(client, "/Practitioner/10009999999", people["doctor"], 404)
    no_pharmacy = fhir.fhir_get(client, "/Organization/999999999", pharmacist, 404)
    patient = client.get(f"{FHIR}/Practitioner/{rpps}", headers=people["patient"])

    assert doctor["id"] == rpps
    assert doctor["identifier"] == [{"system": fhir.RPPS_SYSTEM, "value": rpps}]
    assert pharmacy["identifier"] == [{"system": fhir.FINESS_SYSTEM, "value": PHARMACY_FINESS}]
    assert fhir.outcome_code(missing) == ("not-found", "not_found")
    assert fhir.outcome_code(no_pharmacy) == ("not-found", "not_found")
    assert patient.status_code == 403


def test_the_nir_in_a_search_reaches_no_log(tmp_path, database_url, client, people, products):
    issue(client, people, products)
    token = people["patient"]["Authorization"]
    query = f"patient.identifier={NIR_SYSTEM}|{PATIENT_NIR}"
    leaky = ("--access-logformat", LEAKY_FORMAT)  # an operator's format that logs URLs
    with gunicorn(tmp_path, database_url, args=leaky) as server:
        url = f"{FHIR}/MedicationRequest?{query}&status=active"
        got = server.call("GET", url, headers={"Authorization": token})
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request(
                "POST",
                f"{FHIR}/MedicationDispense/_search",
                body=f"{query}&status=completed",
                headers={
                    "Authorization": token,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            posted = connection.getresponse()
            posted_status = posted.status
            posted.read()
        finally:
            connection.close()
    logs = server.logs()  # once the server stopped: every line flushed

    assert got[0] == 200 and PATIENT_NIR.encode() in got[1]
    assert posted_status == 200
    assert '"GET [withheld] HTTP/1.1"' in logs and '"POST [withheld] HTTP/1.1"' in logs  # logged…
    assert PATIENT_NIR not in logs  # …without the NIR (in the query, the form body)


def test_the_patient_read_follows_subject_reference_for_those_who_may_see_the_patient(
    client, db_session, people, products, pharmacist
):
    issue(client, people, products)
    request = entries(search(client, "MedicationRequest", people["patient"]))[0]
    path = "/" + request["subject"]["reference"]

    own = fhir.fhir_get(client, path, people["patient"])
    doctor = fhir.fhir_get(client, path, people["doctor"])
    stranger = fhir.fhir_get(client, path, people["other_patient"], 404)
    other_doctor = fhir.fhir_get(client, path, people["other_doctor"], 404)
    unknown = fhir.fhir_get(client, "/Patient/987654321", people["other_doctor"], 404)
    chemist = client.get(f"{FHIR}{path}", headers=pharmacist)
    assert name_representative(client, people).status_code == 201
    represented = fhir.fhir_get(client, path, people["other_patient"])

    assert own == doctor == represented
    assert own["identifier"] == [{"system": NIR_SYSTEM, "value": PATIENT_NIR}]
    assert stranger == other_doctor == unknown
    assert fhir.outcome_code(stranger) == ("not-found", "not_found")
    assert chemist.status_code == 403
    reads = [
        (e.actor_role, e.outcome) for e in events(db_session, "lookup") if e.object_type == "person"
    ]
    assert reads == [
        ("patient", "success"),
        ("prescriber", "success"),
        ("patient", "denied"),
        ("prescriber", "denied"),
        ("prescriber", "not_found"),
        ("representative", "success"),
    ]

"""Renewal requests on both engines: the patient asks, the prescriber renews (a real signature)
or declines, the 8-day lapse, object-level access and the audit in the patient's access log."""

import re
from datetime import date, timedelta

from sqlalchemy import func, select, update

from eprescription.domain.prescription_codes import new_number
from eprescription.domain.renewals import LAPSE, RequestStatus
from eprescription.models import AuditEvent, Prescription, RenewalRequest
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD
from tests.integration.signed_rows import signed_with_validity
from tests.integration.test_prescriptions_api import PATIENT_NIR, PIN, assert_problem, body, issue

products = prescribing.products
people = prescribing.people

ME = "/api/v1/me"
REQUESTS = "/api/v1/renewal-requests"


def running_out(client, people, products, **overrides):
    """A long-term treatment (one renewal) in its last 20 days of validity: it may be asked for."""
    ending = (date.today() + timedelta(days=20)).isoformat()
    return issue(client, people, products, renewals=1, valid_until=ending, **overrides)


def ask(client, people, number, who="patient", **fields):
    return client.post(
        f"{ME}/prescriptions/{number}/renewal-request", json=fields, headers=people[who]
    )


def asked(client, people, number, **fields) -> dict:
    response = ask(client, people, number, **fields)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def pending(client, people, who="doctor", status="pending") -> list:
    response = client.get(REQUESTS, query_string={"status": status}, headers=people[who])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def renew(client, people, products, request_id, **overrides):
    return client.post(
        "/api/v1/prescriptions",
        json=body(products, renewal_request=request_id, **overrides),
        headers=people["doctor"],
    )


def rows(session) -> list[RenewalRequest]:
    session.expire_all()
    return session.scalars(select(RenewalRequest).order_by(RenewalRequest.id)).all()


def asked_ago(session, request_id: int, ago: timedelta) -> None:
    """Move a request back in time as if it had been made `ago` earlier: its requested_at and
    its stored lapses_at (the one that decides), in the database only, no reader involved."""
    row = session.get(RenewalRequest, request_id)
    session.execute(
        update(RenewalRequest)
        .where(RenewalRequest.id == request_id)
        .values(requested_at=row.requested_at - ago, lapses_at=row.lapses_at - ago)
    )
    session.commit()


def prescription_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Prescription))


def log_of(client, people) -> list[dict]:
    return client.get(f"{ME}/access-log", headers=people["patient"]).get_json()["items"]


# -- asking ----------------------------------------------------------------------------------


def test_the_patient_asks_once_and_the_prescriber_sees_it_pending(
    client, db_session, people, products
):
    issued = running_out(client, people, products)

    made = asked(client, people, issued["number"], message="  Nearly out of tablets.  ")

    assert made["status"] == "pending" and made["relation"] == "patient"
    assert made["patient_message"] == "Nearly out of tablets."
    assert made["prescription"] == {"id": issued["id"], "number": issued["number"]}
    assert made["renewed_prescription"] is None and made["decline_message"] is None
    assert made["prescriber"]["name"] == "Dr Claire Martin"
    assert made["medications"][0].startswith("DOLIPRANE 1000 mg")
    listed = pending(client, people)
    assert [item["id"] for item in listed] == [made["id"]]
    assert listed[0]["patient"]["name"] == "Camille Dubois"
    mine = client.get(f"{ME}/renewal-requests", headers=people["patient"]).get_json()["items"]
    assert [item["id"] for item in mine] == [made["id"]]

    again = ask(client, people, issued["id"])

    assert_problem(again, 409, "renewal_request_pending")
    assert len(rows(db_session)) == 1


def test_only_a_long_term_treatment_running_out_or_recently_ended_may_be_asked_for(
    client, db_session, people, products
):
    one_off = issue(client, people, products)
    too_early = issue(
        client,
        people,
        products,
        renewals=2,
        valid_until=(date.today() + timedelta(days=200)).isoformat(),
    )
    cancelled = running_out(client, people, products)
    client.post(
        f"/api/v1/prescriptions/{cancelled['id']}/cancel",
        json={"pin": PIN, "reason": "wrong medication"},
        headers=people["doctor"],
    )
    long_ago = running_out(client, people, products)
    past = date.today() - timedelta(days=300)
    signed_with_validity(db_session, long_ago["id"], past, past + timedelta(days=30))

    assert_problem(ask(client, people, one_off["id"]), 409, "renewal_not_allowed")
    problem = assert_problem(ask(client, people, too_early["id"]), 409, "renewal_not_allowed")
    assert "last supply" in problem["detail"]
    assert_problem(ask(client, people, cancelled["id"]), 409, "prescription_cancelled")
    assert_problem(ask(client, people, long_ago["id"]), 409, "renewal_not_allowed")
    too_long = ask(client, people, running_out(client, people, products)["id"], message="x" * 501)
    assert_problem(too_long, 422, "validation_failed")
    assert rows(db_session) == []


def test_a_representative_may_ask_and_the_patient_sees_who_did(client, people, products):
    issued = running_out(client, people, products)
    response = client.post(
        f"{ME}/representatives",
        json={"nir": people["other_patient_nir"], "family_name": "Roux"},
        headers=people["patient"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)

    made = ask(client, people, issued["id"], who="other_patient").get_json()

    assert made["status"] == "pending" and made["relation"] == "representative"
    theirs = client.get(f"{ME}/renewal-requests", headers=people["other_patient"]).get_json()
    assert [item["relation"] for item in theirs["items"]] == ["representative"]
    entries = {
        (entry["actor_name"], entry["actor_role"], entry["what"])
        for entry in log_of(client, people)
    }
    assert (
        "Léa Roux",
        "your representative",
        f"asked for a renewal of prescription {issued['number']}",
    ) in entries


def test_another_patient_gets_404_like_a_missing_prescription_and_is_audited(
    client, db_session, people, products
):
    issued = running_out(client, people, products)

    theirs = ask(client, people, issued["id"], who="other_patient")
    missing = ask(client, people, new_number())

    problem = assert_problem(theirs, 404, "not_found")
    assert problem["detail"] == "No prescription with this number is visible to you."
    assert rows(db_session) == []
    denied = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "request_renewal", AuditEvent.outcome == "denied"
        )
    ).all()
    assert [event.object_id for event in denied] == [issued["id"]]
    assert assert_problem(missing, 404, "not_found")["detail"] == problem["detail"]
    doctor = client.post(
        f"{ME}/prescriptions/{issued['id']}/renewal-request", json={}, headers=people["doctor"]
    )
    assert_problem(doctor, 403, "permission_denied")


# -- declining -------------------------------------------------------------------------------


def test_declining_needs_a_message_and_the_patient_reads_it(client, db_session, people, products):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    url = f"{REQUESTS}/{made['id']}/decline"

    empty = client.post(url, json={"message": ""}, headers=people["doctor"])
    blank = client.post(url, json={"message": "   "}, headers=people["doctor"])
    missing = client.post(url, json={}, headers=people["doctor"])

    for response in (empty, blank, missing):
        problem = assert_problem(response, 422, "validation_failed")
        assert "message" in problem["errors"]
    assert rows(db_session)[0].status == "pending"

    declined = client.post(
        url, json={"message": "Please book an appointment first."}, headers=people["doctor"]
    )

    assert declined.status_code == 200, declined.get_data(as_text=True)
    assert declined.get_json()["status"] == "declined"
    mine = client.get(f"{ME}/renewal-requests", headers=people["patient"]).get_json()["items"]
    assert mine[0]["status"] == "declined"
    assert mine[0]["decline_message"] == "Please book an appointment first."
    assert pending(client, people) == []
    assert [item["id"] for item in pending(client, people, status="declined")] == [made["id"]]
    twice = client.post(url, json={"message": "No."}, headers=people["doctor"])
    assert_problem(twice, 409, "renewal_request_declined")
    log = [entry["what"] for entry in log_of(client, people)]
    assert f"declined the renewal request for prescription {issued['number']}" in log
    # Declined is not the end: the patient may ask again later.
    assert ask(client, people, issued["id"]).status_code == 201


def test_another_prescriber_can_neither_see_nor_handle_the_request(
    client, db_session, people, products
):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])

    assert pending(client, people, who="other_doctor") == []
    declined = client.post(
        f"{REQUESTS}/{made['id']}/decline", json={"message": "no"}, headers=people["other_doctor"]
    )
    unknown = client.post(
        f"{REQUESTS}/{made['id'] + 1000}/decline", json={"message": "no"}, headers=people["doctor"]
    )

    first = assert_problem(declined, 404, "not_found")
    second = assert_problem(unknown, 404, "not_found")
    assert first["detail"] == second["detail"]
    assert rows(db_session)[0].status == "pending"
    patient = client.get(REQUESTS, headers=people["patient"])
    assert_problem(patient, 403, "permission_denied")


# -- renewing --------------------------------------------------------------------------------


def test_renewing_signs_a_new_prescription_and_links_it_in_the_same_transaction(
    client, db_session, people, products
):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    before = prescription_count(db_session)

    wrong_pin = renew(client, people, products, made["id"], pin="9999")

    assert_problem(wrong_pin, 422, "wrong_pin")
    assert prescription_count(db_session) == before
    assert rows(db_session)[0].status == "pending"

    response = renew(client, people, products, made["id"])

    assert response.status_code == 201, response.get_data(as_text=True)
    new = response.get_json()
    row = rows(db_session)[0]
    assert row.status == "renewed" and row.renewed_prescription.number == new["id"]
    assert row.decided_at is not None
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(["renew", "issue"])).order_by(AuditEvent.id)
    ).all()
    renew_event, issue_event = events[-2], events[-1]
    assert (renew_event.action, renew_event.object_id) == ("renew", issued["id"])
    assert (issue_event.action, issue_event.object_id) == ("issue", new["id"])
    assert issue_event.occurred_at == renew_event.occurred_at  # one transaction, one time
    mine = client.get(f"{ME}/renewal-requests", headers=people["patient"]).get_json()["items"]
    assert mine[0]["renewed_prescription"] == {"id": new["id"], "number": new["number"]}
    log = [entry["what"] for entry in log_of(client, people)]
    assert f"renewed prescription {issued['number']} (a new prescription)" in log

    twice = renew(client, people, products, made["id"])
    assert_problem(twice, 409, "renewal_request_renewed")
    assert prescription_count(db_session) == before + 1
    assert_problem(ask(client, people, issued["id"]), 409, "prescription_already_renewed")


def test_a_renewal_must_be_for_the_patient_who_asked_and_by_their_prescriber(
    client, db_session, people, products
):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    before = prescription_count(db_session)

    other_patient = renew(
        client, people, products, made["id"], patient_nir=people["other_patient_nir"]
    )
    other_doctor = client.post(
        "/api/v1/prescriptions",
        json=body(products, renewal_request=made["id"]),
        headers=people["other_doctor"],
    )
    not_an_id = renew(client, people, products, "seven")

    problem = assert_problem(other_patient, 422, "validation_failed")
    assert "renewal_request" in problem["errors"]
    assert_problem(other_doctor, 404, "not_found")
    assert_problem(not_an_id, 422, "validation_failed")
    assert prescription_count(db_session) == before
    assert rows(db_session)[0].status == "pending"


# -- the 8-day lapse ---------------------------------------------------------------------------


def test_after_eight_days_untreated_it_lapses_and_a_new_request_goes_through(
    client, db_session, people, products
):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    asked_ago(db_session, made["id"], timedelta(days=8))

    mine = client.get(f"{ME}/renewal-requests", headers=people["patient"]).get_json()["items"]
    late = client.post(
        f"{REQUESTS}/{made['id']}/decline", json={"message": "sorry"}, headers=people["doctor"]
    )

    assert mine[0]["status"] == "expired"
    assert_problem(late, 409, "renewal_request_expired")
    assert rows(db_session)[0].status == "pending"  # expired by its lapses_at: no read wrote
    assert pending(client, people) == []
    assert [item["id"] for item in pending(client, people, status="expired")] == [made["id"]]
    again = asked(client, people, issued["id"])
    assert again["status"] == "pending" and again["id"] != made["id"]
    assert rows(db_session)[0].status == "expired"  # stored so by the new request's use case
    assert_problem(renew(client, people, products, made["id"]), 409, "renewal_request_expired")


def test_seven_days_later_it_is_still_pending(client, db_session, people, products):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    asked_ago(db_session, made["id"], timedelta(days=7, hours=23))

    assert [item["id"] for item in pending(client, people)] == [made["id"]]
    assert_problem(ask(client, people, issued["id"]), 409, "renewal_request_pending")


def test_a_lapsed_request_never_read_since_lets_the_patient_ask_again(
    client, db_session, people, products
):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    asked_ago(db_session, made["id"], timedelta(days=8))

    again = ask(client, people, issued["id"])  # nobody has listed or opened it since

    assert again.status_code == 201, again.get_data(as_text=True)
    first, second = rows(db_session)
    assert first.status == "expired" and first.decided_at == first.lapses_at
    assert second.id == again.get_json()["id"] and second.status == "pending"
    assert second.lapses_at == second.requested_at + LAPSE
    assert again.get_json()["lapses_at"] == second.lapses_at.isoformat()


def test_the_sql_listings_and_the_views_agree_on_lapsed_without_any_read_in_between(
    client, db_session, people, products
):
    lapsed, waiting, declined = (
        asked(client, people, running_out(client, people, products)["id"])["id"] for _ in range(3)
    )
    client.post(
        f"{REQUESTS}/{declined}/decline", json={"message": "see me"}, headers=people["doctor"]
    )
    asked_ago(db_session, lapsed, timedelta(days=8))
    asked_ago(db_session, declined, timedelta(days=8))
    edge = db_session.get(RenewalRequest, lapsed).lapses_at

    # The database alone, around the lapse: SQL and the Python rule sort every row alike.
    for now in (edge - timedelta(seconds=1), edge, edge + timedelta(seconds=1)):
        by_python = {
            status: {row.id for row in rows(db_session) if row.status_at(now) is status}
            for status in RequestStatus
        }
        by_sql = {
            status: set(
                db_session.scalars(
                    select(RenewalRequest.id).where(RenewalRequest.in_status_at(status, now))
                )
            )
            for status in RequestStatus
        }
        assert by_sql == by_python, now
        assert lapsed in by_sql[RequestStatus.EXPIRED if now >= edge else RequestStatus.PENDING]

    # The faces: the prescriber's listings (SQL) and the patient's views (Python), as of now.
    listed = {status: pending(client, people, status=status) for status in RequestStatus}
    mine = client.get(f"{ME}/renewal-requests", headers=people["patient"]).get_json()["items"]

    assert {status: [item["id"] for item in items] for status, items in listed.items()} == {
        "pending": [waiting],
        "expired": [lapsed],
        "declined": [declined],
        "renewed": [],
    }
    assert all(item["status"] == status for status, items in listed.items() for item in items)
    assert {item["id"]: item["status"] for item in mine} == {
        lapsed: "expired",
        waiting: "pending",
        declined: "declined",
    }
    assert [row.status for row in rows(db_session)] == ["pending", "pending", "declined"]


def test_the_openapi_document_describes_the_renewal_paths(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/me/prescriptions/{prescription_id}/renewal-request" in spec["paths"]
    assert "/api/v1/renewal-requests/{request_id}/decline" in spec["paths"]
    issue_body = spec["components"]["schemas"]["PrescriptionIssue"]["properties"]
    assert "renewal_request" in issue_body


# -- the pages -------------------------------------------------------------------------------


def logged_in(app, username: str):
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = browser.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def page_form(products, request_id, **overrides) -> dict:
    data = {
        "patient_nir": PATIENT_NIR,
        "renewal_request": str(request_id),
        "items-0-cis": products["doliprane"],
        "items-0-medication_label": "DOLIPRANE 1000 mg, comprimé",
        "items-0-dosage_text": "1 comprimé 3 fois par jour",
        "items-0-quantity": "1",
        "renewals": "1",
        "pickup_mode": "public",
    }
    return data | overrides


def test_pages_patient_asks_prescriber_renews_with_pin_patient_sees_the_new_one(
    app, client, db_session, people, products
):
    issued = running_out(client, people, products)
    patient, doctor = logged_in(app, "camille"), logged_in(app, "dr.martin")
    show = f"/me/prescriptions/{issued['id']}"

    assert "Ask my doctor to renew" in patient.get(show).get_data(as_text=True)
    sent = patient.post(f"{show}/renewal-request", data={"message": "Out next week"})
    assert sent.status_code == 302
    page = patient.get(show).get_data(as_text=True)
    assert "Your request has been sent to your doctor." in page
    assert "Renewal asked on" in page and "Ask my doctor to renew" not in page
    assert "Renewal asked on" in patient.get("/me").get_data(as_text=True)
    again = patient.post(f"{show}/renewal-request", data={})
    assert "You asked already" in patient.get(again.headers["Location"]).get_data(as_text=True)

    listing = doctor.get("/prescriber/prescriptions").get_data(as_text=True)
    request_id = rows(db_session)[0].id
    assert "Renewal requests waiting (1)" in listing and "Out next week" in listing
    form = doctor.get(f"/prescriber/renewal-requests/{request_id}/renew").get_data(as_text=True)
    assert f'name="renewal_request" value="{request_id}"' in form
    assert "Answering a renewal request" in form and "Out next week" in form
    # The prescription renewed rides along: its lines are no duplicate therapy to acknowledge.
    renewing = re.search(r'name="renewing" value="([0-9A-Z-]+)"', form).group(1)
    assert renewing.replace("-", "") == issued["number"].replace("-", "")
    review = doctor.post(
        "/prescriber/prescriptions/new", data=page_form(products, request_id, renewing=renewing)
    )
    assert f'name="renewal_request" value="{request_id}"' in review.get_data(as_text=True)
    assert "Check before signing" not in review.get_data(as_text=True)
    signed = doctor.post(
        "/prescriber/prescriptions/sign",
        data=page_form(products, request_id, renewing=renewing, pin=PIN, action="sign"),
    )

    assert signed.status_code == 302, signed.get_data(as_text=True)
    row = rows(db_session)[0]
    assert row.status == "renewed"
    new_number = row.renewed_prescription.number
    assert signed.headers["Location"].endswith(new_number)
    assert "Renewal requests waiting" not in doctor.get("/prescriber/prescriptions").get_data(
        as_text=True
    )
    page = patient.get(show).get_data(as_text=True)
    assert "Renewed on" in page and f'href="/me/prescriptions/{new_number}"' in page


def test_pages_prescriber_declines_with_a_message_the_patient_reads(
    app, client, db_session, people, products
):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    patient, doctor = logged_in(app, "camille"), logged_in(app, "dr.martin")
    url = f"/prescriber/renewal-requests/{made['id']}/decline"

    empty = doctor.post(url, data={"message": "  "})
    assert empty.status_code == 422 and 'id="message-error"' in empty.get_data(as_text=True)
    done = doctor.post(url, data={"message": "Come and see me first, please."})
    assert done.status_code == 302

    page = patient.get(f"/me/prescriptions/{issued['id']}").get_data(as_text=True)
    assert "Renewal declined on" in page and "Come and see me first, please." in page
    assert "Ask my doctor to renew" in page  # they may ask again
    assert doctor.get(url).status_code == 409  # answered already
    before = prescription_count(db_session)
    late = doctor.post(
        "/prescriber/prescriptions/sign",
        data=page_form(products, made["id"], pin=PIN, action="sign"),
    )
    text = late.get_data(as_text=True)
    assert late.status_code == 200 and "has been declined already" in text
    assert 'name="renewal_request" value=""' in text  # signable as an ordinary prescription
    assert prescription_count(db_session) == before


def test_pages_another_prescriber_gets_404_on_the_request(
    app, client, db_session, people, products
):
    issued = running_out(client, people, products)
    made = asked(client, people, issued["id"])
    other = logged_in(app, "dr.petit")

    assert other.get(f"/prescriber/renewal-requests/{made['id']}/renew").status_code == 404
    refused = other.post(
        f"/prescriber/renewal-requests/{made['id']}/decline", data={"message": "no"}
    )
    assert refused.status_code == 404
    assert "Renewal requests waiting" not in other.get("/prescriber/prescriptions").get_data(
        as_text=True
    )
    assert rows(db_session)[0].status == "pending"


def test_ids_too_large_for_the_database_are_not_found_or_refused(client, people, products):
    huge = 2**63 + 7  # beyond the database's integers: must not reach the driver
    decline = client.post(
        f"{REQUESTS}/{huge}/decline", json={"message": "no"}, headers=people["doctor"]
    )
    revoke = client.post(f"{ME}/representatives/{huge}/revoke", headers=people["patient"])
    issued = renew(client, people, products, 2**31)

    assert_problem(decline, 404, "not_found")
    assert_problem(revoke, 404, "not_found")
    assert_problem(issued, 422, "validation_failed")
    assert "renewal_request" in issued.get_json()["errors"]

"""/api/v1/prescriptions on both engines, with the real BDPM and real signatures (no mocks)."""

import io
import json
from datetime import date, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select, update
from stdnum import luhn
from stdnum.fr import nir

from eprescription.domain.prescription_codes import new_number
from eprescription.models import (
    AuditEvent,
    Prescriber,
    Prescription,
    PrescriptionCancellation,
    PrescriptionItem,
    Product,
    Representative,
    Role,
)
from eprescription.services import accounts, pki, prescription_reading, verification
from eprescription.services.accounts import PersonDetails
from tests.integration.people import PASSWORD, PEOPLE, add_account, operator

PROBLEM = "application/problem+json"
PIN = "1234"
PATIENT_NIR = PEOPLE[Role.PATIENT][1].national_id
PRESCRIBER_NIR = PEOPLE[Role.PRESCRIBER][1].national_id


def make_nir(body13: str) -> str:
    return body13 + nir.calc_check_digits(body13)


def make_rpps(body10: str) -> str:
    return body10 + luhn.calc_check_digit(body10)


@pytest.fixture
def products(db_session, catalog):
    """CIS codes of real products: Doliprane 1000 mg tablets, an amoxicillin, a withdrawn one."""

    def first(*conditions):
        return db_session.scalars(select(Product).where(*conditions).order_by(Product.cis)).all()

    doliprane = next(
        p for p in first(Product.name.like("DOLIPRANE 1000 mg, comprimé%")) if p.is_prescribable
    )
    amoxicilline = next(p for p in first(Product.name.like("AMOXICILLINE%")) if p.is_prescribable)
    withdrawn = next(
        p for p in first(Product.authorisation_status != "Autorisation active") if p.name
    )
    paracetamol = next(c for c in doliprane.compositions if "PARACÉTAMOL" in c.substance_name)
    return {
        "doliprane": doliprane.cis,
        "amoxicilline": amoxicilline.cis,
        "withdrawn": withdrawn.cis,
        "paracetamol": {
            "code": paracetamol.substance_code,
            "strength": paracetamol.strength,
            "form": doliprane.form,
        },
    }


def bearer(session, account) -> dict:
    with operator(session) as uow:
        token, _ = accounts.issue_token(uow, account, 3600)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(db_session, products):
    """A prescriber with a signing key (PIN 1234), a patient, and a second of each."""
    with operator(db_session) as uow:
        pki.init_ca(uow)
    doctor = add_account(db_session, Role.PRESCRIBER)
    patient = add_account(db_session, Role.PATIENT)
    with operator(db_session) as uow:
        other_doctor = accounts.create_account(
            uow,
            username="dr.petit",
            password=PASSWORD,
            role=Role.PRESCRIBER,
            person=PersonDetails(make_nir("1800175056123"), "Paul", "Petit", date(1980, 1, 1)),
            rpps=make_rpps("1000999999"),
        )
        other_patient = accounts.create_account(
            uow,
            username="lea",
            password=PASSWORD,
            role=Role.PATIENT,
            person=PersonDetails(make_nir("2950675056123"), "Léa", "Roux", date(1995, 6, 1)),
        )
    for account in (doctor, other_doctor):
        prescriber = db_session.scalar(
            select(Prescriber).where(Prescriber.person_id == account.person_id)
        )
        with operator(db_session) as uow:
            pki.enroll_prescriber(uow, prescriber, PIN)
    return {
        "doctor": bearer(db_session, doctor),
        "patient": bearer(db_session, patient),
        "other_doctor": bearer(db_session, other_doctor),
        "other_patient": bearer(db_session, other_patient),
        "other_patient_nir": other_patient.person.national_id,
        "doctor_account": doctor,
    }


# The prescriber's reason for signing over any warning (the same treatment issued again by the
# tests): the API requires every warning acknowledged, this reason covers them all.
ACKNOWLEDGED = {"acknowledgement_reason": "Same treatment again, checked with the patient."}


def body(products, **overrides) -> dict:
    request = {
        "patient_nir": PATIENT_NIR,
        "pin": PIN,
        **ACKNOWLEDGED,
        "items": [
            {
                "cis": products["doliprane"],
                "dosage_text": "1 comprimé jusqu'à 3 fois par jour si douleur",
                "dose": "1",
                "dose_unit": "comprimé",
                "frequency_per_day": 3,
                "duration_days": 5,
                "quantity": 1,
            },
            {
                "cis": products["amoxicilline"],
                "dosage_text": "1 g matin et soir pendant 6 jours",
                "quantity": 2,
                "substitutable": False,
                "non_substitution_reason": "CIF",
                "ald": True,
                # A liste I antibiotic: renewed only when the prescriber says so (docs/rules.md).
                "renewal_authorised": True,
            },
        ],
    }
    request.update(overrides)
    return request


def issue(client, people, products, **overrides):
    response = client.post(
        "/api/v1/prescriptions", json=body(products, **overrides), headers=people["doctor"]
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def counts(session) -> tuple[int, int, int]:
    return tuple(
        session.scalar(select(func.count()).select_from(model))
        for model in (Prescription, PrescriptionItem, PrescriptionCancellation)
    )


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["code"] == code
    return problem


# -- issue ------------------------------------------------------------------------------------


def test_issuing_returns_201_with_the_number_access_code_and_qr_text(client, people, products):
    issued = issue(client, people, products)

    assert issued["status"] == "active"
    assert issued["qr_text"] == f"EP1.{issued['id']}.{issued['access_code']}"
    assert issued["number"].replace("-", "") == issued["id"]
    assert [item["line"] for item in issued["items"]] == [1, 2]
    assert issued["items"][1]["non_substitution_reason"] == "CIF"
    assert issued["items"][1]["ald"] is True
    today = date.today()
    assert issued["valid_from"] == today.isoformat()
    assert issued["patient"]["identifier"] == {"system": "NIR", "value": PATIENT_NIR}


def test_the_stored_jws_verifies_and_signs_exactly_the_stored_payload(
    client, db_session, people, products
):
    issued = issue(client, people, products)

    stored = db_session.scalar(select(Prescription).where(Prescription.number == issued["id"]))
    with operator(db_session) as uow:
        report = verification.verify_document(uow, stored.jws, stored.payload)
    assert report.valid, report.checks
    assert report.payload == stored.payload
    assert issued["jws"] == stored.jws
    content = json.loads(stored.payload)
    assert content["number"] == issued["id"]
    assert content["prescriber"]["rpps"] == "10001234565"
    assert content["items"][0]["medication"] == {
        "type": "product",
        "cis": products["doliprane"],
        "name": content["items"][0]["medication"]["name"],
    }
    assert content["items"][0]["dosage"]["frequency_per_day"] == 3


def test_the_access_code_is_stored_only_as_its_hash(client, db_session, people, products):
    issued = issue(client, people, products)

    stored = db_session.scalar(select(Prescription).where(Prescription.number == issued["id"]))
    assert issued["access_code"].encode() not in stored.payload
    assert issued["access_code"] not in stored.jws
    assert issued["access_code"].encode() not in stored.access_code_sealed
    assert len(stored.access_code_hash) == 64


def test_a_line_by_active_substance_strength_and_form_is_accepted(client, people, products):
    substance = products["paracetamol"]
    issued = issue(
        client,
        people,
        products,
        items=[
            {
                "substance": substance,
                "dosage_text": "1 comprimé 3 fois par jour",
                "quantity": 1,
            }
        ],
        renewals=2,
        valid_until=(date.today() + timedelta(days=300)).isoformat(),
        pickup_mode="private",
    )

    medication = issued["items"][0]["medication"]
    assert medication["type"] == "substance"
    assert medication["substance_code"] == substance["code"]
    assert issued["renewals"] == 2 and issued["pickup_mode"] == "private"


def bad_inputs(products):
    first = body(products)["items"][0]
    return {
        "invalid NIR": ({"patient_nir": "185057800608437"}, "patient_nir"),
        "unknown NIR": ({"patient_nir": make_nir("1990375056999")}, "patient_nir"),
        "unknown medication": ({"items": [{**first, "cis": "69999999"}]}, "items"),
        "withdrawn medication": ({"items": [{**first, "cis": products["withdrawn"]}]}, "items"),
        "quantity zero": ({"items": [{**first, "quantity": 0}]}, "items"),
        "quantity negative": ({"items": [{**first, "quantity": -3}]}, "items"),
        "absurd quantity": ({"items": [{**first, "quantity": 1000}]}, "items"),
        "validity beyond max": (
            {"valid_until": (date.today() + timedelta(days=120)).isoformat()},
            "valid_until",
        ),
        "validity beyond max with renewals": (
            {"renewals": 3, "valid_until": (date.today() + timedelta(days=400)).isoformat()},
            "valid_until",
        ),
        "renewals out of range": ({"renewals": 12}, "renewals"),
        "no lines": ({"items": []}, "items"),
        "missing reason for non-substitution": (
            {"items": [{**first, "substitutable": False}]},
            "items",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "invalid NIR",
        "unknown NIR",
        "unknown medication",
        "withdrawn medication",
        "quantity zero",
        "quantity negative",
        "absurd quantity",
        "validity beyond max",
        "validity beyond max with renewals",
        "renewals out of range",
        "no lines",
        "missing reason for non-substitution",
    ],
)
def test_bad_input_is_refused_with_a_problem_and_nothing_is_stored(
    client, db_session, people, products, case
):
    overrides, field = bad_inputs(products)[case]
    before = counts(db_session)

    response = client.post(
        "/api/v1/prescriptions", json=body(products, **overrides), headers=people["doctor"]
    )

    problem = assert_problem(response, 422, response.get_json()["code"])
    assert problem["code"] in ("validation_failed", "invalid_identifier")
    assert field in problem["errors"]
    assert counts(db_session) == before


def test_every_bad_field_is_reported_at_once(client, db_session, people, products):
    first = body(products)["items"][0]
    response = client.post(
        "/api/v1/prescriptions",
        json=body(
            products,
            patient_nir=make_nir("1990375056999"),
            renewals=0,
            valid_until=(date.today() + timedelta(days=200)).isoformat(),
            items=[{**first, "cis": "69999999"}, {**first, "cis": products["withdrawn"]}],
        ),
        headers=people["doctor"],
    )

    problem = assert_problem(response, 422, "validation_failed")
    assert {"patient_nir", "valid_until", "items"} <= set(problem["errors"])
    assert set(problem["errors"]["items"]) == {"0", "1"}
    assert counts(db_session) == (0, 0, 0)


def test_a_prescriber_cannot_prescribe_for_themselves(client, db_session, people, products):
    response = client.post(
        "/api/v1/prescriptions",
        json=body(products, patient_nir=PRESCRIBER_NIR),
        headers=people["doctor"],
    )

    assert_problem(response, 422, "self_prescription_refused")
    assert counts(db_session) == (0, 0, 0)


def test_malformed_json_and_an_oversized_body_are_refused(client, app, db_session, people):
    malformed = client.post(
        "/api/v1/prescriptions",
        data="{not json",
        content_type="application/json",
        headers=people["doctor"],
    )
    oversized = client.post(
        "/api/v1/prescriptions",
        data="x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
        content_type="application/json",
        headers=people["doctor"],
    )

    assert_problem(malformed, 400, "bad_request")
    assert_problem(oversized, 413, "request_too_large")
    assert counts(db_session) == (0, 0, 0)


def test_wrong_pins_are_refused_count_and_block_the_key(client, db_session, people, products):
    def post(pin):
        return client.post(
            "/api/v1/prescriptions", json=body(products, pin=pin), headers=people["doctor"]
        )

    first = assert_problem(post("9999"), 422, "wrong_pin")
    assert "2 tries left" in first["detail"]
    assert_problem(post("9998"), 422, "wrong_pin")
    assert_problem(post("9997"), 403, "signing_key_blocked")
    assert_problem(post(PIN), 403, "signing_key_blocked")
    assert counts(db_session) == (0, 0, 0)
    outcomes = db_session.scalars(
        select(AuditEvent.outcome).where(AuditEvent.action == "issue").order_by(AuditEvent.id)
    ).all()
    assert outcomes == ["wrong_pin", "wrong_pin", "signing_key_blocked", "signing_key_blocked"]


def test_a_revoked_certificate_cannot_sign(client, db_session, people, products):
    prescriber = db_session.scalar(
        select(Prescriber).where(Prescriber.person_id == people["doctor_account"].person_id)
    )
    with operator(db_session) as uow:
        pki.revoke(uow, prescriber, "left the practice")

    response = client.post("/api/v1/prescriptions", json=body(products), headers=people["doctor"])

    assert_problem(response, 403, "certificate_revoked")
    assert counts(db_session) == (0, 0, 0)


def test_a_patient_or_pharmacist_cannot_issue(client, db_session, people, products):
    response = client.post("/api/v1/prescriptions", json=body(products), headers=people["patient"])

    assert_problem(response, 403, "permission_denied")
    assert counts(db_session) == (0, 0, 0)


# -- read and list ----------------------------------------------------------------------------


def test_its_prescriber_and_its_patient_can_read_it_and_nobody_else(client, people, products):
    issued = issue(client, people, products)
    url = f"/api/v1/prescriptions/{issued['id']}"

    assert client.get(url, headers=people["doctor"]).get_json()["jws"] == issued["jws"]
    assert client.get(url, headers=people["patient"]).status_code == 200
    grouped = client.get(f"/api/v1/prescriptions/{issued['number']}", headers=people["patient"])
    assert grouped.status_code == 200
    for stranger in ("other_doctor", "other_patient"):
        assert_problem(client.get(url, headers=people[stranger]), 404, "not_found")


def name_lea(client, people, **fields) -> dict:
    """The patient names Léa Roux (the other patient) their representative."""
    response = client.post(
        "/api/v1/me/representatives",
        json={"nir": people["other_patient_nir"], "family_name": "Roux", **fields},
        headers=people["patient"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_a_representative_reads_it_audited_as_such_until_revoked(
    client, db_session, people, products
):
    issued = issue(client, people, products)
    url = f"/api/v1/prescriptions/{issued['id']}"
    named = name_lea(client, people)

    read = client.get(url, headers=people["other_patient"])

    assert read.status_code == 200, read.get_data(as_text=True)
    assert read.get_json()["jws"] == issued["jws"]
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "read").order_by(AuditEvent.id)
    ).all()[-1]
    assert (event.actor_role, event.outcome, event.object_id) == (
        "representative",
        "success",
        issued["id"],
    )
    log = client.get("/api/v1/me/access-log", headers=people["patient"]).get_json()["items"]
    assert ("Léa Roux", "your representative", f"opened prescription {issued['number']}") in {
        (entry["actor_name"], entry["actor_role"], entry["what"]) for entry in log
    }
    # The general QR path stays its patient's and prescriber's (DESIGN §5).
    qr = client.get(f"{url}/qr.svg", headers=people["other_patient"])
    assert_problem(qr, 404, "not_found")

    client.post(f"/api/v1/me/representatives/{named['id']}/revoke", headers=people["patient"])
    revoked = client.get(url, headers=people["other_patient"])
    missing = client.get(f"/api/v1/prescriptions/{new_number()}", headers=people["other_patient"])

    assert_problem(revoked, 404, "not_found")
    strip = lambda body: {k: v for k, v in body.items() if k != "instance"}  # noqa: E731
    assert strip(revoked.get_json()) == strip(missing.get_json())
    assert db_session.scalars(
        select(AuditEvent.outcome).where(AuditEvent.action == "read").order_by(AuditEvent.id)
    ).all()[-2:] == ["denied", "not_found"]


def test_a_representative_whose_end_date_passed_gets_404(client, db_session, people, products):
    issued = issue(client, people, products)
    url = f"/api/v1/prescriptions/{issued['id']}"
    name_lea(client, people, valid_until=date.today().isoformat())
    assert client.get(url, headers=people["other_patient"]).status_code == 200

    db_session.execute(update(Representative).values(valid_until=date.today() - timedelta(days=1)))
    db_session.commit()

    assert_problem(client.get(url, headers=people["other_patient"]), 404, "not_found")


def test_representing_one_patient_opens_nothing_of_another(client, people, products):
    theirs = issue(client, people, products, patient_nir=people["other_patient_nir"])
    name_lea(client, people)  # Léa represents Camille; Camille does not represent Léa

    response = client.get(f"/api/v1/prescriptions/{theirs['id']}", headers=people["patient"])

    assert_problem(response, 404, "not_found")


def test_somebody_elses_prescription_looks_exactly_like_a_missing_one(client, people, products):
    issued = issue(client, people, products)
    from eprescription.domain.prescription_codes import new_number

    theirs = client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["other_doctor"])
    missing = client.get(f"/api/v1/prescriptions/{new_number()}", headers=people["other_doctor"])

    strip = lambda body: {k: v for k, v in body.items() if k != "instance"}  # noqa: E731
    assert strip(theirs.get_json()) == strip(missing.get_json())


def test_a_mistyped_number_is_refused_with_the_typo_explained(client, people, products):
    issued = issue(client, people, products)
    number = issued["id"]
    typo = number[:3] + ("A" if number[3] != "A" else "B") + number[4:]

    response = client.get(f"/api/v1/prescriptions/{typo}", headers=people["doctor"])

    assert_problem(response, 422, "invalid_prescription_number")


def test_the_list_is_filtered_by_patient_and_status(client, people, products):
    first = issue(client, people, products)
    issue(client, people, products)
    third = issue(client, people, products, patient_nir=people["other_patient_nir"])
    client.post(
        f"/api/v1/prescriptions/{first['id']}/cancel",
        json={"pin": PIN, "reason": "wrong patient"},
        headers=people["doctor"],
    )

    def ids(**query):
        response = client.get("/api/v1/prescriptions", query_string=query, headers=people["doctor"])
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["id"] for item in response.get_json()["items"]]

    assert len(ids()) == 3
    assert ids(patient=people["other_patient_nir"]) == [third["id"]]
    assert len(ids(patient=PATIENT_NIR)) == 2
    assert ids(status="cancelled") == [first["id"]]
    assert len(ids(status="active")) == 2
    assert ids(status="expired") == []
    other = client.get("/api/v1/prescriptions", headers=people["other_doctor"]).get_json()
    assert other["items"] == [] and other["total"] == 0
    bad = client.get(
        "/api/v1/prescriptions", query_string={"patient": "123"}, headers=people["doctor"]
    )
    assert_problem(bad, 422, "validation_failed")


# -- cancel -----------------------------------------------------------------------------------


def cancel(client, people, issued, who="doctor", **fields):
    return client.post(
        f"/api/v1/prescriptions/{issued['id']}/cancel",
        json={"pin": PIN, "reason": "allergy discovered", **fields},
        headers=people[who],
    )


def test_cancelling_the_whole_prescription_with_a_reason(client, db_session, people, products):
    issued = issue(client, people, products)

    response = cancel(client, people, issued)

    assert response.status_code == 200, response.get_data(as_text=True)
    cancelled = response.get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["version"] == 2
    assert [item["status"] for item in cancelled["items"]] == ["cancelled", "cancelled"]
    assert cancelled["cancellations"][0]["reason"] == "allergy discovered"
    assert cancelled["cancellations"][0]["lines"] == [1, 2]
    stored = db_session.scalar(select(PrescriptionCancellation))
    document = json.loads(stored.payload)
    assert document["prescription"]["number"] == issued["id"]
    assert document["reason"] == "allergy discovered"
    assert stored.jws.count(".") == 2
    assert_problem(cancel(client, people, issued), 409, "prescription_cancelled")


def test_cancelling_one_line_keeps_the_others_active(client, people, products):
    issued = issue(client, people, products)

    response = cancel(client, people, issued, lines=[2])

    assert response.status_code == 200, response.get_data(as_text=True)
    partly = response.get_json()
    assert partly["status"] == "active"
    assert [item["status"] for item in partly["items"]] == ["active", "cancelled"]
    assert_problem(cancel(client, people, issued, lines=[2]), 409, "prescription_not_cancellable")
    assert_problem(cancel(client, people, issued, lines=[5]), 409, "prescription_not_cancellable")
    assert cancel(client, people, issued, lines=[1]).get_json()["status"] == "cancelled"


def test_a_dispensed_line_cannot_be_cancelled(client, db_session, people, products):
    from tests.integration.test_dispensing_api import _pack, add_pharmacist, dispense, pack_line

    issued = issue(client, people, products)
    pharmacist = add_pharmacist(db_session, "ph.bernard")
    given = dispense(
        client, pharmacist, issued, [pack_line(1, _pack(db_session, products["doliprane"]))]
    )
    assert given.status_code == 201, given.get_data(as_text=True)

    refused = cancel(client, people, issued, lines=[1])
    whole = cancel(client, people, issued)

    assert_problem(refused, 409, "prescription_not_cancellable")
    assert whole.status_code == 200
    # line 1 (1 pack) was dispensed in full and line 2 is cancelled: nothing is left to give
    assert whole.get_json()["status"] == "completed"
    assert [item["status"] for item in whole.get_json()["items"]] == ["active", "cancelled"]


def test_a_cancellation_needs_a_reason_and_the_right_pin(client, db_session, people, products):
    issued = issue(client, people, products)

    no_reason = client.post(
        f"/api/v1/prescriptions/{issued['id']}/cancel", json={"pin": PIN}, headers=people["doctor"]
    )
    blank_reason = cancel(client, people, issued, reason="   ")
    wrong_pin = cancel(client, people, issued, pin="0000")

    assert_problem(no_reason, 422, "validation_failed")
    assert_problem(blank_reason, 422, "validation_failed")
    assert_problem(wrong_pin, 422, "wrong_pin")
    assert counts(db_session) == (1, 2, 0)


def test_only_its_prescriber_can_cancel(client, db_session, people, products):
    issued = issue(client, people, products)

    assert_problem(cancel(client, people, issued, who="other_doctor"), 404, "not_found")
    assert_problem(cancel(client, people, issued, who="patient"), 403, "permission_denied")
    assert counts(db_session) == (1, 2, 0)


# -- audit ------------------------------------------------------------------------------------


def test_issue_read_and_cancel_are_audited_with_the_patient(client, db_session, people, products):
    issued = issue(client, people, products)
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["patient"])
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["other_doctor"])
    cancel(client, people, issued)

    events = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor_role, e.outcome) for e in events] == [
        ("issue", "prescriber", "success"),
        ("read", "patient", "success"),
        ("read", "prescriber", "denied"),
        ("cancel", "prescriber", "success"),
    ]
    patient_id = people["doctor_account"].person_id
    assert all(e.patient_person_id and e.patient_person_id != patient_id for e in events)
    assert all(e.object_id == issued["id"] for e in events)
    assert events[0].organisation == "RPPS 10001234565"


def test_audit_verify_passes_and_then_finds_a_tampered_event(
    client, db_session, runner, people, products
):
    issued = issue(client, people, products)
    for _ in range(3):
        client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["patient"])

    intact = runner.invoke(args=["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "4 events in 1 chains" in intact.output

    third = db_session.scalar(select(AuditEvent).where(AuditEvent.chain_seq == 3))
    db_session.execute(
        update(AuditEvent).where(AuditEvent.id == third.id).values(actor_role="admin")
    )
    db_session.commit()
    broken = runner.invoke(args=["audit", "verify"])

    assert broken.exit_code == 1
    assert f"broken at event {third.id} (chain {third.chain_key}, position 3)" in broken.output
    assert "hash mismatch" in broken.output


def test_audit_verify_finds_a_deleted_event(client, db_session, runner, people, products):
    issued = issue(client, people, products)
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["patient"])
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["patient"])
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.chain_seq == 2))
    db_session.delete(event)
    db_session.commit()

    broken = runner.invoke(args=["audit", "verify"])

    assert broken.exit_code == 1
    assert f"(chain {event.chain_key}, position 2): this event is missing" in broken.output


# -- QR code ----------------------------------------------------------------------------------


def test_the_qr_png_decodes_to_the_qr_text_for_patient_and_prescriber(client, people, products):
    issued = issue(client, people, products)

    for who in ("patient", "doctor"):
        response = client.get(f"/api/v1/prescriptions/{issued['id']}/qr.png", headers=people[who])
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.headers["Cache-Control"] == "no-store"
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
        assert [result.text for result in decoded] == [issued["qr_text"]]


def test_the_qr_svg_is_served_to_its_patient_only(client, people, products):
    issued = issue(client, people, products)

    svg = client.get(f"/api/v1/prescriptions/{issued['id']}/qr.svg", headers=people["patient"])
    stranger = client.get(
        f"/api/v1/prescriptions/{issued['id']}/qr.svg", headers=people["other_patient"]
    )

    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    assert_problem(stranger, 404, "not_found")


def test_a_cancelled_prescription_has_no_qr_code_for_anyone(client, people, products):
    issued = issue(client, people, products)
    assert cancel(client, people, issued).status_code == 200

    for who in ("patient", "doctor"):
        for image in ("qr.svg", "qr.png"):
            response = client.get(
                f"/api/v1/prescriptions/{issued['id']}/{image}", headers=people[who]
            )
            assert_problem(response, 409, "prescription_cancelled")
    mine = client.get(f"/api/v1/me/prescriptions/{issued['id']}/qr.svg", headers=people["patient"])
    assert_problem(mine, 409, "prescription_cancelled")


def test_the_signed_document_is_what_the_verify_command_reads(client, db_session, people, products):
    issued = issue(client, people, products)

    with operator(db_session) as uow:
        stored = prescription_reading.signed_document(uow, issued["number"])

    assert stored.jws == issued["jws"]
    assert json.loads(stored.payload)["number"] == issued["id"]
    assert stored.signed.verified and stored.signed.number == issued["id"]


def test_the_verify_command_checks_a_stored_prescription_by_its_number(
    client, runner, people, products
):
    issued = issue(client, people, products)

    result = runner.invoke(args=["verify", issued["number"]])

    assert result.exit_code == 0, result.output
    assert "The signature is valid." in result.output

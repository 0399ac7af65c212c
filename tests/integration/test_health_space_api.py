"""/api/v1/me on both engines: the patient's prescriptions, access log, representatives and
pickup mode, with real signed prescriptions on the real BDPM."""

from datetime import date, timedelta

from sqlalchemy import func, select, update

from eprescription.domain.prescription_codes import new_number
from eprescription.models import (
    AuditEvent,
    GenericGroup,
    GenericGroupMember,
    Product,
    Representative,
)
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.signed_rows import signed_with_validity
from tests.integration.test_dispensing_api import (
    STRANGER_NIR,
    dispense,
    pack_line,
    princeps_items,
)
from tests.integration.test_prescriptions_api import PIN, assert_problem, issue

# The prescribing tests' fixtures: a doctor with a signing key, a patient (Camille Dubois),
# a second doctor and a second patient (Léa Roux), and real catalog products; the dispensing
# tests' pharmacist (Pharmacie des Quais, Bordeaux) and a real generic group of the BDPM.
products = prescribing.products
people = prescribing.people
packs = dispensing.packs
generic_group = dispensing.generic_group
pharmacist = dispensing.pharmacist

ME = "/api/v1/me"


def mine(client, people, who="patient", status="active", **query):
    response = client.get(
        f"{ME}/prescriptions", query_string={"status": status, **query}, headers=people[who]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def name_representative(client, people, who="patient", **fields):
    body = {"nir": people["other_patient_nir"], "family_name": "Roux", **fields}
    return client.post(f"{ME}/representatives", json=body, headers=people[who])


def event_rows(session, **where):
    query = select(AuditEvent).order_by(AuditEvent.id)
    for field, value in where.items():
        query = query.where(getattr(AuditEvent, field) == value)
    return session.scalars(query).all()


# -- the list and one prescription -------------------------------------------------------------


def test_the_patient_sees_active_prescriptions_newest_first_in_plain_words(
    client, people, products
):
    first = issue(client, people, products)
    second = issue(client, people, products)

    page = mine(client, people)

    assert [item["id"] for item in page["items"]] == [second["id"], first["id"]]
    assert page["total"] == 2
    card = page["items"][0]
    assert card["relation"] == "patient"
    assert card["prescriber"]["name"] == "Dr Claire Martin"
    assert card["issued_at"] == second["issued_at"]
    assert card["valid_until"] == second["valid_until"]
    expected_days = (date.fromisoformat(second["valid_until"]) - date.today()).days
    assert card["days_left"] == expected_days
    assert card["validity_text"] == f"{expected_days} days left"
    assert card["lines"][0]["medication"].startswith("DOLIPRANE 1000 mg")
    assert card["lines"][0]["dosage"] == "1 comprimé jusqu'à 3 fois par jour si douleur"
    assert card["lines"][1]["quantity_text"] == "2 packs per supply"
    assert card["lines"][1]["remaining_text"] == "2 packs to collect"
    assert card["remaining_quantity"] == 3 and card["renewal_in_progress"] == 0
    assert card["number"] == second["number"]
    assert card["qr_svg_url"] == f"{ME}/prescriptions/{second['id']}/qr.svg"
    svg = client.get(card["qr_svg_url"], headers=people["patient"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.headers["Cache-Control"] == "no-store"
    assert "jws" not in card and "qr_text" not in card


def test_one_prescription_carries_the_qr_text_the_pharmacy_scans(client, people, products):
    issued = issue(client, people, products)

    response = client.get(f"{ME}/prescriptions/{issued['number']}", headers=people["patient"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["qr_text"] == issued["qr_text"]


def test_what_remains_to_collect_and_the_renewal_in_progress(
    client, db_session, people, products, packs, pharmacist
):
    until = date.today() + timedelta(days=300)
    issued = issue(client, people, products, renewals=2, valid_until=until.isoformat())
    # Signed 35 days ago, so that the first renewal period is open (issue 12: each period opens
    # on its date) and the third is not.
    signed_with_validity(db_session, issued["id"], date.today() - timedelta(days=35), until)
    # Line 2 (2 packs a supply, 6 in all): 3 given, so the first renewal is being collected.
    for quantity in (2, 1):
        given = dispense(
            client, pharmacist, issued, [pack_line(2, packs["amoxicilline"], quantity)]
        )
        assert given.status_code == 201, given.get_data(as_text=True)

    card = mine(client, people)["items"][0]

    assert card["id"] == issued["id"] and card["status"] == "partially_dispensed"
    line = card["lines"][1]
    assert (line["total_quantity"], line["remaining_quantity"], line["remaining_now"]) == (6, 3, 1)
    assert line["remaining_text"] == "1 pack to collect now, 3 packs in all with the renewals"
    assert card["renewal_in_progress"] == 1
    assert card["remaining_quantity"] == 3 + 3


def test_history_holds_the_cancelled_completed_and_expired_ones(
    client, db_session, people, products, packs, pharmacist
):
    cancelled = issue(client, people, products)
    completed = issue(client, people, products)
    expired = issue(client, people, products)
    active = issue(client, people, products)
    client.post(
        f"/api/v1/prescriptions/{cancelled['id']}/cancel",
        json={"pin": PIN, "reason": "wrong medication"},
        headers=people["doctor"],
    )
    everything = [pack_line(1, packs["doliprane"]), pack_line(2, packs["amoxicilline"], 2)]
    assert dispense(client, pharmacist, completed, everything).status_code == 201
    past = date.today() - timedelta(days=40)
    signed_with_validity(db_session, expired["id"], past, past + timedelta(days=30))

    history = mine(client, people, status="history")["items"]

    assert [item["id"] for item in mine(client, people)["items"]] == [active["id"]]
    assert {item["id"]: item["status"] for item in history} == {
        cancelled["id"]: "cancelled",
        completed["id"]: "completed",
        expired["id"]: "expired",
    }
    assert all(item["qr_svg_url"] is None for item in history)
    detail = client.get(f"{ME}/prescriptions/{expired['id']}", headers=people["patient"])
    assert detail.get_json()["qr_text"] is None
    assert detail.get_json()["validity_text"] == "expired"
    bad = client.get(f"{ME}/prescriptions", query_string={"status": "x"}, headers=people["patient"])
    assert_problem(bad, 422, "validation_failed")


# -- what was given --------------------------------------------------------------------------


def group_label(session, princeps: str, generic: str) -> str:
    """The label of the BDPM generic group holding both products, read independently."""
    both = (
        select(GenericGroupMember.group_id)
        .where(GenericGroupMember.cis.in_([princeps, generic]))
        .group_by(GenericGroupMember.group_id)
        .having(func.count() == 2)
    )
    return session.scalars(
        select(GenericGroup.label).where(GenericGroup.id.in_(both)).order_by(GenericGroup.id)
    ).first()


def test_every_dispensation_shows_pharmacy_product_substitution_amounts_and_reversal(
    client, db_session, people, products, generic_group, pharmacist
):
    issued = issue(
        client,
        people,
        products,
        items=princeps_items(generic_group),
        renewals=1,
        valid_until=(date.today() + timedelta(days=90)).isoformat(),
    )
    # Signed 35 days ago, so that the renewal's period is open (issue 12).
    signed_with_validity(
        db_session,
        issued["id"],
        date.today() - timedelta(days=35),
        date.today() + timedelta(days=90),
    )
    generic, princeps = generic_group["generic_pack"], generic_group["princeps_pack"]
    first = dispense(
        client,
        pharmacist,
        issued,
        [pack_line(1, generic), pack_line(2, princeps, batch="LOT-P2")],
    )
    assert first.status_code == 201, first.get_data(as_text=True)
    second = dispense(client, pharmacist, issued, [pack_line(1, generic, batch="LOT-R")])
    assert second.status_code == 201, second.get_data(as_text=True)
    reversal = client.post(
        f"/api/v1/dispensations/{second.get_json()['id']}/reversal",
        json={"reason": "wrong box handed over"},
        headers=pharmacist,
    )
    assert reversal.status_code == 200, reversal.get_data(as_text=True)
    receipt = first.get_json()

    response = client.get(f"{ME}/prescriptions/{issued['id']}", headers=people["patient"])

    assert response.status_code == 200, response.get_data(as_text=True)
    view = response.get_json()
    given, undone = view["dispensations"]
    assert given["id"] == receipt["id"] and given["reversed"] is False
    assert given["collected_by"] == {"kind": "patient", "name": None}
    assert given["pharmacy"] == {
        "name": "Pharmacie des Quais",
        "town": "Bordeaux",
        "finess": "330004565",
    }
    assert given["dispensed_at"][:19] == receipt["issued_at"][:19]
    substitute, prescribed = given["lines"]
    generic_name = db_session.get(Product, generic.cis).name
    assert substitute["product"] == {
        "name": generic_name,
        "cip13": generic.cip13,
        "pack": generic.label,
    }
    assert (substitute["quantity"], substitute["batch"], substitute["substituted"]) == (
        1,
        "B1",
        True,
    )
    assert substitute["substitution"] == {
        "generic_group": group_label(db_session, generic_group["princeps"], generic.cis),
        "line_substitutable": True,
    }
    princeps_name = db_session.get(Product, generic_group["princeps"]).name
    assert substitute["prescribed"] == princeps_name
    assert prescribed["product"]["cip13"] == princeps.cip13 and prescribed["batch"] == "LOT-P2"
    assert (prescribed["substituted"], prescribed["substitution"]) == (False, None)
    for mine_, theirs in zip(given["lines"], receipt["lines"], strict=True):
        assert (mine_["total_cents"], mine_["covered_cents"], mine_["patient_share_cents"]) == (
            theirs["total_cents"],
            theirs["covered_cents"],
            theirs["patient_share_cents"],
        )
        assert mine_["reimbursement_rate"] == theirs["reimbursement_rate"]
    assert (given["total_cents"], given["covered_cents"], given["patient_share_cents"]) == (
        receipt["total_cents"],
        receipt["covered_cents"],
        receipt["patient_share_cents"],
    )
    assert given["covered_cents"] + given["patient_share_cents"] == given["total_cents"]
    assert undone["reversed"] is True and undone["reversal_reason"] == "wrong box handed over"
    assert undone["reversed_at"] >= undone["dispensed_at"]
    assert undone["lines"][0]["batch"] == "LOT-R"
    # The reversed pack came back: line 1 (1 pack a supply, 2 in all) has one given.
    assert (view["lines"][0]["dispensed_quantity"], view["lines"][0]["remaining_quantity"]) == (
        1,
        1,
    )
    listed = mine(client, people)["items"][0]
    assert listed["dispensations"] == view["dispensations"]
    log = client.get(f"{ME}/access-log", headers=people["patient"]).get_json()["items"]
    assert f"reversed a dispensation of prescription {issued['number']}" in {
        entry["what"] for entry in log
    }


def test_a_representative_sees_what_was_given_too(client, people, products, packs, pharmacist):
    issued = issue(client, people, products)
    neighbour = {"kind": "other", "national_id": STRANGER_NIR, "name": "Jean Martin"}
    given = dispense(
        client, pharmacist, issued, [pack_line(1, packs["doliprane"])], collected_by=neighbour
    )
    assert given.status_code == 201, given.get_data(as_text=True)
    assert name_representative(client, people).status_code == 201

    detail = client.get(f"{ME}/prescriptions/{issued['id']}", headers=people["other_patient"])
    card = mine(client, people, who="other_patient")["items"][0]

    assert detail.status_code == 200, detail.get_data(as_text=True)
    for view in (detail.get_json(), card):
        assert view["relation"] == "representative"
        assert [d["lines"][0]["product"]["cip13"] for d in view["dispensations"]] == [
            packs["doliprane"].cip13
        ]
        # Who took it away, by name only: the NIR the pharmacy recorded is not shown.
        assert view["dispensations"][0]["collected_by"] == {"kind": "other", "name": "Jean Martin"}
        assert STRANGER_NIR not in str(view)


# -- object-level access ---------------------------------------------------------------------


def test_another_patients_prescription_answers_404_exactly_like_a_missing_one(
    client, people, products
):
    issued = issue(client, people, products)
    missing = new_number()
    strip = lambda body: {k: v for k, v in body.items() if k != "instance"}  # noqa: E731

    for suffix, method, body in (
        ("", "get", None),
        ("/qr.svg", "get", None),
        ("/pickup-mode", "put", {"pickup_mode": "private"}),
    ):
        call = getattr(client, method)
        theirs = call(
            f"{ME}/prescriptions/{issued['id']}{suffix}", json=body, headers=people["other_patient"]
        )
        nothing = call(
            f"{ME}/prescriptions/{missing}{suffix}", json=body, headers=people["other_patient"]
        )
        assert_problem(theirs, 404, "not_found")
        assert strip(theirs.get_json()) == strip(nothing.get_json())
    assert mine(client, people, who="other_patient")["items"] == []


def test_the_health_space_is_for_patients_only(client, people):
    assert_problem(
        client.get(f"{ME}/prescriptions", headers=people["doctor"]), 403, "permission_denied"
    )
    assert_problem(client.get(f"{ME}/prescriptions"), 401, "authentication_required")


def test_every_read_is_audited(client, db_session, people, products):
    issued = issue(client, people, products)

    mine(client, people)
    client.get(f"{ME}/prescriptions/{issued['id']}", headers=people["patient"])
    client.get(f"{ME}/prescriptions/{issued['id']}", headers=people["other_patient"])

    events = [(e.action, e.actor_role, e.outcome) for e in event_rows(db_session)][1:]
    assert events == [
        ("list", "patient", "success"),
        ("read", "patient", "success"),
        ("view_qr", "patient", "success"),
        ("read", "patient", "denied"),
    ]


# -- the access log --------------------------------------------------------------------------


def test_the_access_log_shows_the_prescribers_read_with_who_when_and_what(
    client, db_session, people, products
):
    issued = issue(client, people, products)
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["doctor"])
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["other_doctor"])
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["patient"])  # own: left out

    response = client.get(f"{ME}/access-log", headers=people["patient"])

    assert response.status_code == 200, response.get_data(as_text=True)
    log = response.get_json()
    assert log["total"] == 3
    denied, read, issued_event = log["items"]
    assert (read["actor_name"], read["actor_role"], read["organisation"]) == (
        "Dr Claire Martin",
        "prescriber",
        "RPPS 10001234565",
    )
    assert read["what"] == f"opened prescription {issued['number']}"
    assert read["occurred_at"] >= issued_event["occurred_at"]
    assert issued_event["what"] == f"issued prescription {issued['number']}"
    assert denied["actor_name"] == "Dr Paul Petit" and denied["outcome"] == "denied"
    assert denied["what"].startswith("tried: opened prescription")
    second_page = client.get(
        f"{ME}/access-log", query_string={"page": 2, "page_size": 2}, headers=people["patient"]
    ).get_json()
    assert [item["action"] for item in second_page["items"]] == ["issue"]
    assert second_page["total"] == 3
    other = client.get(f"{ME}/access-log", headers=people["other_patient"]).get_json()
    assert other["items"] == []
    assert event_rows(db_session, object_type="access_log")


# -- representatives -------------------------------------------------------------------------


def test_a_representative_sees_the_prescriptions_of_the_person_they_represent_labelled(
    client, people, products
):
    issued = issue(client, people, products)

    response = name_representative(client, people)

    assert response.status_code == 201, response.get_data(as_text=True)
    named = response.get_json()
    assert named["name"] == "Léa Roux" and named["active"] and named["kind"] == "authorised"
    card = mine(client, people, who="other_patient")["items"][0]
    assert card["id"] == issued["id"]
    assert card["relation"] == "representative"
    assert card["patient"]["name"] == "Camille Dubois"
    detail = client.get(f"{ME}/prescriptions/{issued['id']}", headers=people["other_patient"])
    assert detail.get_json()["qr_text"] == issued["qr_text"]
    log = client.get(f"{ME}/access-log", headers=people["patient"]).get_json()["items"]
    assert (
        "Léa Roux",
        "your representative",
        "displayed the QR code of prescription " + issued["number"],
    ) in {(e["actor_name"], e["actor_role"], e["what"]) for e in log}
    listing = client.get(f"{ME}/representatives", headers=people["other_patient"]).get_json()
    assert [person["name"] for person in listing["represented"]] == ["Camille Dubois"]
    assert (
        client.get(f"{ME}/representatives", headers=people["patient"]).get_json()["named"][0][
            "name"
        ]
        == "Léa Roux"
    )


def test_a_revoked_representative_loses_access_at_once(client, people, products):
    issued = issue(client, people, products)
    named = name_representative(client, people).get_json()
    url = f"{ME}/prescriptions/{issued['id']}"
    assert client.get(url, headers=people["other_patient"]).status_code == 200

    revoked = client.post(
        f"{ME}/representatives/{named['id']}/revoke", headers=people["patient"]
    ).get_json()

    assert revoked["active"] is False and revoked["revoked_at"]
    assert_problem(client.get(url, headers=people["other_patient"]), 404, "not_found")
    assert mine(client, people, who="other_patient")["items"] == []
    assert name_representative(client, people).status_code == 201  # named again afresh


def test_an_expired_representative_loses_access_at_once(client, db_session, people, products):
    issued = issue(client, people, products)
    today = date.today()
    named = name_representative(client, people, valid_until=today.isoformat())
    assert named.status_code == 201, named.get_data(as_text=True)
    url = f"{ME}/prescriptions/{issued['id']}"
    assert client.get(url, headers=people["other_patient"]).status_code == 200

    db_session.execute(update(Representative).values(valid_until=today - timedelta(days=1)))
    db_session.commit()

    assert_problem(client.get(url, headers=people["other_patient"]), 404, "not_found")
    assert mine(client, people, who="other_patient")["items"] == []


def test_naming_oneself_an_invalid_nir_a_wrong_name_or_a_duplicate_is_refused(
    client, db_session, people
):
    from tests.integration.test_prescriptions_api import PATIENT_NIR

    oneself = name_representative(client, people, nir=PATIENT_NIR, family_name="Dubois")
    invalid = name_representative(client, people, nir=PATIENT_NIR[:-2] + "00")
    wrong_name = name_representative(client, people, family_name="Rousseau")
    past = name_representative(client, people, valid_until="2000-01-01")
    assert name_representative(client, people).status_code == 201
    duplicate = name_representative(client, people)

    assert (
        "own national identifier"
        in assert_problem(oneself, 422, "validation_failed")["errors"]["nir"][0]
    )
    assert "key should be" in assert_problem(invalid, 422, "validation_failed")["errors"]["nir"][0]
    assert "no person" in assert_problem(wrong_name, 422, "validation_failed")["errors"]["nir"][0]
    assert "valid_until" in assert_problem(past, 422, "validation_failed")["errors"]
    assert_problem(duplicate, 409, "representative_exists")
    assert len(db_session.scalars(select(Representative)).all()) == 1


def test_only_the_patient_revokes_their_own_representatives(client, people):
    named = name_representative(client, people).get_json()

    by_other = client.post(
        f"{ME}/representatives/{named['id']}/revoke", headers=people["other_patient"]
    )
    unknown = client.post(f"{ME}/representatives/999999/revoke", headers=people["patient"])

    assert_problem(by_other, 404, "not_found")
    assert_problem(unknown, 404, "not_found")


def test_an_administrator_records_a_parent_of_a_minor_until_the_18th_birthday(
    client, db_session, runner, people, products
):
    from eprescription.services import accounts
    from eprescription.services.accounts import PersonDetails
    from tests.integration.people import operator
    from tests.integration.test_prescriptions_api import make_nir

    birth = date(date.today().year - 10, 5, 17)
    child_nir = make_nir(f"2{birth:%y%m}75056321")
    with operator(db_session, country="FR") as uow:
        accounts.create_person(uow, details=PersonDetails(child_nir, "Zoé", "Dubois", birth))
    from tests.integration.test_prescriptions_api import PATIENT_NIR

    result = runner.invoke(
        args=[
            "representatives",
            "add-parent",
            "--child-nir",
            child_nir,
            "--parent-nir",
            PATIENT_NIR,
        ]
    )
    adult = runner.invoke(
        args=[
            "representatives",
            "add-parent",
            "--child-nir",
            PATIENT_NIR,
            "--parent-nir",
            child_nir,
        ]
    )

    assert result.exit_code == 0, result.output
    assert f"until {birth.replace(year=birth.year + 18) - timedelta(days=1)}" in result.output
    assert adult.exit_code == 1 and "not a minor" in adult.output
    represented = client.get(f"{ME}/representatives", headers=people["patient"]).get_json()
    assert [(p["name"], p["kind"]) for p in represented["represented"]] == [
        ("Zoé Dubois", "parent")
    ]


# -- pickup mode -----------------------------------------------------------------------------


def test_the_patient_switches_the_pickup_mode_and_the_signed_default_stays(
    client, people, products
):
    issued = issue(client, people, products)
    url = f"{ME}/prescriptions/{issued['id']}/pickup-mode"

    response = client.put(url, json={"pickup_mode": "private"}, headers=people["patient"])

    assert response.status_code == 200, response.get_data(as_text=True)
    switched = response.get_json()
    assert switched["pickup_mode"] == "private"
    assert switched["pickup_mode_prescribed"] == "public"
    assert switched["version"] == issued["version"] + 1
    signed = client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["doctor"])
    assert signed.get_json()["pickup_mode"] == "public"  # the signature is untouched
    assert_problem(
        client.put(url, json={"pickup_mode": "x"}, headers=people["patient"]),
        422,
        "validation_failed",
    )
    name_representative(client, people)
    assert_problem(
        client.put(url, json={"pickup_mode": "public"}, headers=people["other_patient"]),
        403,
        "permission_denied",
    )
    client.post(
        f"/api/v1/prescriptions/{issued['id']}/cancel",
        json={"pin": PIN, "reason": "not needed"},
        headers=people["doctor"],
    )
    closed = client.put(url, json={"pickup_mode": "public"}, headers=people["patient"])
    assert_problem(closed, 409, "prescription_cancelled")


def test_the_access_log_shows_the_pharmacists_scan_with_the_pharmacy(
    client, db_session, people, products
):
    from eprescription.models import Role
    from tests.integration.people import add_account
    from tests.integration.test_prescriptions_api import bearer

    issued = issue(client, people, products)
    pharmacist = bearer(db_session, add_account(db_session, Role.PHARMACIST))

    scanned = client.post(
        "/api/v1/pharmacy/scan", json={"code": issued["qr_text"]}, headers=pharmacist
    )
    assert scanned.status_code == 200, scanned.get_data(as_text=True)

    log = client.get(f"{ME}/access-log", headers=people["patient"]).get_json()["items"]
    scan = next(entry for entry in log if entry["action"] == "scan")
    assert scan["actor_name"] == "Julien Bernard" and scan["actor_role"] == "pharmacist"
    assert scan["organisation"] == "Pharmacie des Quais (FINESS 330004565)"
    assert scan["what"] == f"scanned the QR code of prescription {issued['number']}"


def test_each_sealed_access_log_entry_carries_a_proof_the_independent_script_accepts(
    client, runner, people, products
):
    import base64
    import importlib.util
    from pathlib import Path

    script_path = Path(__file__).resolve().parents[2] / "tools" / "verify_audit_proof.py"
    spec = importlib.util.spec_from_file_location("verify_audit_proof", script_path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    issued = issue(client, people, products)
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["other_doctor"])
    before = client.get(f"{ME}/access-log", headers=people["patient"]).get_json()["items"]
    assert all(entry["leaf_index"] is None for entry in before)  # not sealed yet

    assert runner.invoke(args=["audit", "seal"]).exit_code == 0
    items = client.get(f"{ME}/access-log", headers=people["patient"]).get_json()["items"]

    assert len(items) == 2
    for entry in items:
        size = entry["inclusion_proof"]["tree_size"]
        head = client.get(f"/api/v1/audit/checkpoints/{size}").get_json()
        root = script.verify_signed_head(head).root_hash
        leaf = script.leaf_hash(base64.b64decode(entry["leaf_data"]))
        proof = [base64.b64decode(h) for h in entry["inclusion_proof"]["hashes"]]
        assert script.verify_inclusion(leaf, entry["leaf_index"], size, proof, root)
        assert not script.verify_inclusion(leaf, entry["leaf_index"] ^ 1, size, proof, root)

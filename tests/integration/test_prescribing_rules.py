"""The rules of French prescribing and dispensing on both engines, with real BDPM products."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from eprescription.domain.errors import DispensingRuleRefused, RenewalPeriodNotOpen
from eprescription.models import (
    Dispensation,
    Prescriber,
    Prescription,
    Presentation,
    Product,
    Role,
)
from eprescription.services import accounts, counter_access, dispensed_packs, dispensing, pki
from eprescription.services.accounts import PersonDetails
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import settings
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD, add_account, operator
from tests.integration.test_prescriptions_api import (
    PATIENT_NIR,
    PIN,
    assert_problem,
    bearer,
    make_nir,
    make_rpps,
)

people = prescribing.people
products = prescribing.products

# Real products of the June 2022 BDPM, one per kind of rule (docs/rules.md).
SKENAN = "61227030"  # SKENAN L.P. 10 mg: stupéfiants, limited to 4 weeks, secure form
IMOVANE = "68508795"  # IMOVANE 7,5 mg: liste I, prescription limitée à 4 semaines
CLAMOXYL = "67707794"  # CLAMOXYL 500 mg gélule: liste I
FENOFIBRATE = "60004277"  # FENOFIBRATE TEVA 100 mg: liste II
AVASTIN = "60391646"  # AVASTIN: réservé à l'usage HOSPITALIER
AMMONAPS = "60052254"  # AMMONAPS: prescription hospitalière
FAMPYRA = "62483787"  # FAMPYRA: prescription réservée aux spécialistes et services NEUROLOGIE
DEFERASIROX = "60122699"  # DEFERASIROX ZENTIVA 90 mg: prescription initiale hospitalière
DUROGESIC = "60616751"  # DUROGESIC 50 µg/h: stupéfiants, délivrance fractionnée de 14 jours
DOLIPRANE = "60234100"  # DOLIPRANE 1000 mg: no condition


@pytest.fixture
def doctors(db_session, people):
    """Bearer headers of a community GP, a hospital neurologist, and the fixture's cardiologist."""
    made = {"cardiologist": people["doctor"]}
    for key, username, nir_body, rpps_body, specialty, setting in (
        ("gp", "dr.gp", "1700175056123", "1000888888", "Médecine générale", "community"),
        ("neurologist", "dr.neuro", "1710175056123", "1000777777", "Neurologie", "hospital"),
    ):
        with operator(db_session) as uow:
            account = accounts.create_account(
                uow,
                username=username,
                password=PASSWORD,
                role=Role.PRESCRIBER,
                person=PersonDetails(
                    make_nir(nir_body),
                    "Jo",
                    key.title(),
                    date(1900 + int(nir_body[1:3]), int(nir_body[3:5]), 1),
                ),
                rpps=make_rpps(rpps_body),
                specialty=specialty,
                setting=setting,
            )
        prescriber = db_session.scalar(
            select(Prescriber).where(Prescriber.person_id == account.person_id)
        )
        with operator(db_session) as uow:
            pki.enroll_prescriber(uow, prescriber, PIN)
        made[key] = bearer(db_session, account)
    return made


def line(cis: str, **fields) -> dict:
    return {"cis": cis, "dosage_text": "selon l'ordonnance", "quantity": 1, **fields}


def post(client, headers, *items, **fields):
    body = {
        "patient_nir": PATIENT_NIR,
        "pin": PIN,
        "items": list(items),
        **prescribing.ACKNOWLEDGED,
        **fields,
    }
    return client.post("/api/v1/prescriptions", json=body, headers=headers)


def refused(client, headers, *items, **fields) -> list[str]:
    """The rule refusals of line 1, after checking nothing was stored."""
    response = post(client, headers, *items, **fields)
    problem = assert_problem(response, 422, "prescribing_rule_refused")
    return problem["errors"]["items"]["0"]["rule"]


def issued(client, headers, *items, **fields) -> dict:
    response = post(client, headers, *items, **fields)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def stored(session) -> int:
    return session.scalar(select(func.count()).select_from(Prescription))


# -- at issue -----------------------------------------------------------------------------------


def test_a_narcotic_is_not_renewed_nor_prescribed_beyond_28_days_and_nothing_is_stored(
    client, db_session, doctors
):
    renewed = refused(client, doctors["gp"], line(SKENAN, duration_days=14), renewals=1)
    too_long = refused(client, doctors["gp"], line(SKENAN, duration_days=29))
    allowed = issued(client, doctors["gp"], line(SKENAN, duration_days=28))

    assert any("R5132-30" in message and "renewed" in message for message in renewed)
    assert too_long == ["29 days of treatment, at most 28 (source: CSP R5132-30)"]
    kinds = {condition["kind"] for condition in allowed["items"][0]["conditions"]}
    assert {"narcotic", "secure_form", "duration_limit"} <= kinds
    assert allowed["items"][0]["quantity_in_words"] == "un"  # on the secure copy, signed
    assert stored(db_session) == 1


def test_a_product_limited_to_4_weeks_is_refused_beyond_and_allowed_within(client, doctors):
    beyond = refused(
        client,
        doctors["gp"],
        line(IMOVANE, duration_days=20, renewal_authorised=True),
        renewals=1,
        valid_until=(date.today() + timedelta(days=60)).isoformat(),
    )
    within = post(client, doctors["gp"], line(IMOVANE, duration_days=28))

    assert beyond == [
        "40 days of treatment, at most 28 (source: BDPM «prescription limitée à 4 semaines»)"
    ]
    assert within.status_code == 201


def test_a_liste_i_line_is_renewed_only_when_the_prescriber_says_so_expressly(client, doctors):
    silent = refused(client, doctors["gp"], line(CLAMOXYL, duration_days=7), renewals=1)
    express = post(
        client, doctors["gp"], line(CLAMOXYL, duration_days=7, renewal_authorised=True), renewals=1
    )

    assert silent == [
        "a liste I medicine is renewed only when the prescriber says so expressly "
        "(source: CSP R5132-22)"
    ]
    assert express.status_code == 201
    assert express.get_json()["items"][0]["renewal_authorised"] is True


def test_liste_ii_with_renewals_is_refused_beyond_12_months(client, doctors):
    a_year = (date.today() + timedelta(days=360)).isoformat()
    beyond = refused(
        client, doctors["gp"], line(FENOFIBRATE, duration_days=120), renewals=3, valid_until=a_year
    )
    within = post(
        client, doctors["gp"], line(FENOFIBRATE, duration_days=90), renewals=3, valid_until=a_year
    )

    assert beyond == ["480 days of treatment, at most 365 (source: CSP R5132-21)"]
    assert within.status_code == 201


def test_a_hospital_only_product_cannot_be_prescribed_for_community_dispensing(
    client, db_session, doctors
):
    for who in ("gp", "neurologist"):
        assert (
            "not dispensed by community pharmacies"
            in refused(client, doctors[who], line(AVASTIN))[0]
        )
    assert stored(db_session) == 0


def test_a_hospital_prescription_needs_a_prescriber_practising_in_hospital(client, doctors):
    community = refused(client, doctors["gp"], line(AMMONAPS))
    hospital = post(client, doctors["neurologist"], line(AMMONAPS))

    assert community == [
        "«prescription hospitalière»: only a prescriber practising in hospital may prescribe it"
    ]
    assert hospital.status_code == 201


def test_a_specialist_only_product_needs_that_specialty(client, doctors):
    cardiologist = refused(client, doctors["cardiologist"], line(FAMPYRA))
    neurologist = post(client, doctors["neurologist"], line(FAMPYRA))

    assert cardiologist == ["reserved to these specialists: NEUROLOGIE (source: BDPM)"]
    assert neurologist.status_code == 201


def test_an_initial_hospital_prescription_is_renewed_in_town_with_its_reference(client, doctors):
    without = refused(client, doctors["gp"], line(DEFERASIROX))
    renewal = post(
        client,
        doctors["gp"],
        line(DEFERASIROX, initial_prescription="CHU Bordeaux 2026-10-02 n° 4411"),
    )

    assert "initial hospital prescription" in without[0]
    assert renewal.status_code == 201
    assert renewal.get_json()["items"][0]["initial_prescription"] == (
        "CHU Bordeaux 2026-10-02 n° 4411"
    )


def test_a_duration_the_rules_cannot_judge_is_accepted(client, doctors):
    response = post(client, doctors["gp"], line(SKENAN))  # no duration_days

    assert response.status_code == 201
    assert response.get_json()["rule_notes"] == [
        {
            "line": 1,
            "message": "no duration in days was given, so «stupéfiants» could not be checked",
        }
    ]


def test_the_prescribers_page_refuses_the_same_rule_in_french_and_stores_nothing(
    app, db_session, doctors
):
    """The web form calls the same service: the rule's refusal is shown next to the line."""
    browser = app.test_client()  # no language preference: the pages are in French
    browser.post("/login", data={"username": "dr.gp", "password": PASSWORD})
    page = browser.post(
        "/prescriber/prescriptions/new",
        data={
            "patient_nir": PATIENT_NIR,
            "items-0-cis": AVASTIN,
            "items-0-medication_label": "AVASTIN",
            "items-0-dosage_text": "selon protocole",
            "items-0-quantity": "1",
            "renewals": "0",
            "pickup_mode": "public",
        },
    ).get_data(as_text=True)

    assert "non délivré en officine, il ne peut donc pas être prescrit ici" in page
    assert "réservé à l&#39;usage HOSPITALIER" in page
    assert stored(db_session) == 0


def test_the_review_says_what_the_rules_could_not_judge(app, db_session, doctors):
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    browser.post("/login", data={"username": "dr.gp", "password": PASSWORD})
    page = browser.post(
        "/prescriber/prescriptions/new",
        data={
            "patient_nir": PATIENT_NIR,
            "items-0-cis": SKENAN,
            "items-0-medication_label": "SKENAN",
            "items-0-dosage_text": "1 gélule matin et soir",
            "items-0-quantity": "1",
            "renewals": "0",
            "pickup_mode": "public",
        },
    ).get_data(as_text=True)

    assert "Review and sign" in page
    assert "no duration in days was given, so «stupéfiants» could not be checked" in page
    assert "stupéfiants" in page and "(un)" in page  # its conditions, the quantity in words


# -- at dispensing --------------------------------------------------------------------------------


@pytest.fixture
def counter(db_session, people):
    return add_account(db_session, Role.PHARMACIST)


def _pack(session, cis: str) -> Presentation:
    return session.scalars(
        select(Presentation).where(Presentation.cis == cis).order_by(Presentation.cip13)
    ).first()


def give(session, account, prescription: dict, quantity: int, days: int = 0):
    """Dispense `quantity` packs of line 1 as the pharmacist would `days` after its issue."""
    now = datetime.now(UTC) + timedelta(days=days)
    pack = _pack(session, prescription["items"][0]["medication"]["cis"])
    lines = [
        dispensed_packs.PackLine(
            1,
            quantity,
            cip13=pack.cip13,
            batch="B1",
            expiry=now.date() + timedelta(days=400),
            unit_price_cents=None if pack.price_cents else 100,
        )
    ]
    with UnitOfWork(session, settings(), account, now=now) as uow:
        return dispensing.dispense(
            uow,
            prescription["id"],
            dispensing.DispenseRequest(
                counter_access.Credentials(qr_text=prescription["qr_text"]),
                lines,
                dispensing.Collector("patient"),
            ),
        )


def given(session) -> int:
    return session.scalar(select(func.count()).select_from(Dispensation))


def test_a_renewal_period_opens_on_its_date_with_three_days_of_tolerance(
    client, db_session, doctors, counter
):
    today = datetime.now(UTC).date()
    prescription = issued(client, doctors["gp"], line(DOLIPRANE, duration_days=10), renewals=2)
    give(db_session, counter, prescription, 1)
    scanned = client.post(
        "/api/v1/pharmacy/scan",
        json={"code": prescription["qr_text"]},
        headers=bearer(db_session, counter),
    ).get_json()

    assert scanned["items"][0]["period"]["opens"] == (today + timedelta(days=10)).isoformat()
    with pytest.raises(RenewalPeriodNotOpen) as early:
        give(db_session, counter, prescription, 1, 6)
    assert early.value.detail.params["opens"] == today + timedelta(days=10)
    assert given(db_session) == 1
    give(db_session, counter, prescription, 1, 7)
    assert given(db_session) == 2


def test_liste_ii_is_given_one_month_at_a_time(client, db_session, doctors, counter):
    prescription = issued(client, doctors["gp"], line(FENOFIBRATE, duration_days=90, quantity=3))
    with pytest.raises(DispensingRuleRefused) as whole:
        give(db_session, counter, prescription, 3)
    assert "R5132-22" in whole.value.detail
    first = give(db_session, counter, prescription, 1)
    assert [limit["code"] for limit in json.loads(first.payload)["limited_by"]] == [
        "rule_one_month"
    ]  # the signed receipt says which rule limited it
    with pytest.raises(DispensingRuleRefused):
        give(db_session, counter, prescription, 1, 26)
    give(db_session, counter, prescription, 1, 27)
    assert given(db_session) == 2


def test_a_narcotic_presented_late_gives_only_the_rest_of_the_treatment(
    client, db_session, doctors, counter
):
    late = issued(client, doctors["gp"], line(SKENAN, duration_days=28, quantity=4))
    on_time = issued(client, doctors["gp"], line(SKENAN, duration_days=28, quantity=4))

    with pytest.raises(DispensingRuleRefused) as refusal:
        give(db_session, counter, late, 4, 10)
    assert refusal.value.detail.params["allowed"] == 3  # 18 days of 28 left, one pack up
    give(db_session, counter, late, 3, 10)
    give(db_session, counter, on_time, 4, 3)
    assert given(db_session) == 2


def test_a_fractioned_narcotic_is_given_fourteen_days_at_a_time(
    client, db_session, doctors, counter
):
    prescription = issued(client, doctors["gp"], line(DUROGESIC, duration_days=28, quantity=2))

    with pytest.raises(DispensingRuleRefused):
        give(db_session, counter, prescription, 2)
    give(db_session, counter, prescription, 1)
    with pytest.raises(DispensingRuleRefused):
        give(db_session, counter, prescription, 1, 10)
    give(db_session, counter, prescription, 1, 11)  # 14 days, 3 early
    assert given(db_session) == 2


def test_every_product_keeps_its_classified_conditions_after_the_import(db_session, catalog):
    skenan = db_session.get(Product, SKENAN)
    assert '"kind":"narcotic"' in skenan.conditions
    assert db_session.get(Product, DOLIPRANE).conditions == "[]"


# -- written by the prescriber: fractionation, overlap (R5132-30, R5132-33) ----------------------


def test_a_prescriber_writes_a_narcotics_fractionation_and_nothing_else_is_fractioned(
    client, db_session, doctors
):
    not_narcotic = refused(client, doctors["gp"], line(CLAMOXYL, fractionation_days=7))
    out_of_range = post(
        client, doctors["gp"], line(SKENAN, duration_days=28, fractionation_days=29)
    )
    allowed = issued(
        client, doctors["gp"], line(SKENAN, duration_days=28, fractionation_days=7, quantity=4)
    )

    assert not_narcotic == [
        "only a narcotic (stupéfiant) is given fractioned as the prescriber writes "
        "(source: CSP R5132-30)"
    ]
    assert assert_problem(out_of_range, 422, "validation_failed")["errors"]["items"]["0"][
        "fractionation_days"
    ]
    assert allowed["items"][0]["fractionation_days"] == 7  # signed with the line
    assert stored(db_session) == 1


def test_a_narcotic_is_given_as_the_prescriber_fractioned_it(client, db_session, doctors, counter):
    prescription = issued(
        client, doctors["gp"], line(SKENAN, duration_days=28, fractionation_days=7, quantity=4)
    )

    with pytest.raises(DispensingRuleRefused) as whole:
        give(db_session, counter, prescription, 2)
    assert "as the prescriber wrote" in whole.value.detail
    first = give(db_session, counter, prescription, 1)
    assert [limit["code"] for limit in json.loads(first.payload)["limited_by"]] == [
        "rule_fractioned_by_prescriber"
    ]
    with pytest.raises(DispensingRuleRefused):
        give(db_session, counter, prescription, 1, 3)
    give(db_session, counter, prescription, 1, 4)  # 7 days, 3 early
    assert given(db_session) == 2


def test_a_narcotic_does_not_overlap_a_running_one_unless_the_prescriber_wrote_so(
    client, db_session, doctors, counter
):
    running = issued(client, doctors["gp"], line(SKENAN, duration_days=28, quantity=4))
    again = issued(client, doctors["gp"], line(SKENAN, duration_days=28, quantity=4))
    allowed = issued(
        client, doctors["gp"], line(SKENAN, duration_days=28, quantity=4, overlap_allowed=True)
    )
    other_substance = issued(client, doctors["gp"], line(DUROGESIC, duration_days=14))
    give(db_session, counter, running, 4)

    with pytest.raises(DispensingRuleRefused) as overlap:
        give(db_session, counter, again, 4, 3)
    assert overlap.value.detail.code == "rule_overlap"
    assert "R5132-33" in overlap.value.detail
    assert overlap.value.detail.params["until"] == datetime.now(UTC).date() + timedelta(days=28)
    assert allowed["items"][0]["overlap_allowed"] is True
    give(db_session, counter, allowed, 4, 3)  # «chevauchement autorisé»
    give(db_session, counter, other_substance, 1, 3)  # fentanyl is not morphine
    assert given(db_session) == 3


def test_the_prescribers_form_writes_the_mentions_the_products_conditions_ask_for(
    app, db_session, doctors
):
    """Liste I renewal, initial prescription, fractionation and overlap from the web form."""
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    browser.post("/login", data={"username": "dr.gp", "password": PASSWORD})
    form = browser.get("/prescriber/prescriptions/new").get_data(as_text=True)
    liste_i = {
        "patient_nir": PATIENT_NIR,
        "items-0-cis": CLAMOXYL,
        "items-0-medication_label": "CLAMOXYL",
        "items-0-dosage_text": "1 gélule 3 fois par jour",
        "items-0-duration_days": "10",
        "items-0-quantity": "1",
        "items-0-condition_kinds": "list_i",
        "renewals": "1",
        "pickup_mode": "public",
    }
    without = browser.post("/prescriber/prescriptions/new", data=liste_i).get_data(as_text=True)
    renewed = browser.post(
        "/prescriber/prescriptions/new", data={**liste_i, "items-0-renewal_authorised": "1"}
    ).get_data(as_text=True)
    review = browser.post(
        "/prescriber/prescriptions/new",
        data={
            "patient_nir": PATIENT_NIR,
            "items-0-cis": SKENAN,
            "items-0-medication_label": "SKENAN",
            "items-0-dosage_text": "1 gélule matin et soir",
            "items-0-duration_days": "28",
            "items-0-quantity": "4",
            "items-0-fractionation_days": "7",
            "items-0-overlap_allowed": "1",
            "items-1-cis": DEFERASIROX,
            "items-1-medication_label": "DEFERASIROX",
            "items-1-dosage_text": "selon protocole",
            "items-1-quantity": "1",
            "items-1-initial_prescription": "CHU de Nantes, 2026-10-02",
            "renewals": "0",
            "pickup_mode": "public",
        },
    ).get_data(as_text=True)

    # Hidden until a product's conditions need them (no keyboard action otherwise).
    assert re.search(r'class="rule-field checks" data-kinds="list_i" hidden', form)
    assert "renewed only when the prescriber says so expressly" in without
    assert re.search(r'data-kinds="list_i">\s*<input type="checkbox"', without)  # shown there
    assert "Review and sign" in renewed and "Renewal expressly authorised" in renewed
    assert "Review and sign" in review
    assert "To be dispensed 7 days at a time" in review
    assert "Overlap authorised (chevauchement autorisé)" in review
    assert "Renews the initial prescription: CHU de Nantes, 2026-10-02" in review
    assert "Secure prescription (ordonnance sécurisée)" in review  # SKENAN's copy
    assert "secure prescription, in words: quatre" in review
    assert stored(db_session) == 0


def test_the_patients_page_says_which_rule_limited_a_dispensation(
    client, db_session, doctors, counter
):
    prescription = issued(client, doctors["gp"], line(FENOFIBRATE, duration_days=90, quantity=3))
    give(db_session, counter, prescription, 1)
    patient = client.application.test_client()  # French by default
    patient.post("/login", data={"username": "camille", "password": PASSWORD})

    page = patient.get(f"/me/prescriptions/{prescription['id']}").get_data(as_text=True)

    assert "La ligne 1 a été limitée par une règle" in page
    assert "R5132-22" in page


def test_a_line_by_substance_finds_its_strength_however_it_is_written(client, doctors, products):
    paracetamol = products["paracetamol"]
    assert paracetamol["strength"] == "1000 mg"

    def by_substance(strength: str) -> dict:
        substance = {**paracetamol, "strength": strength}
        return {"substance": substance, "dosage_text": "1 comprimé si douleur", "quantity": 1}

    found = issued(client, doctors["gp"], by_substance("1 g"))
    other = post(client, doctors["gp"], by_substance("1,5 g"))

    # Found by value, signed as the prescriber wrote it (the search line they chose says "1 g").
    assert found["items"][0]["medication"]["strength"] == "1 g"
    assert assert_problem(other, 422, "validation_failed")["errors"]["items"]["0"]["medication"]


def test_the_printed_copy_of_a_narcotic_is_marked_secure_with_its_quantity_in_words(
    app, client, doctors
):
    narcotic = issued(client, doctors["gp"], line(SKENAN, duration_days=28, quantity=4))
    ordinary = issued(client, doctors["gp"], line(DOLIPRANE, duration_days=5))
    browser = app.test_client()  # French by default
    browser.post("/login", data={"username": "dr.gp", "password": PASSWORD})

    copy = browser.get(f"/prescriber/prescriptions/{narcotic['id']}").get_data(as_text=True)
    plain = browser.get(f"/prescriber/prescriptions/{ordinary['id']}").get_data(as_text=True)

    assert 'id="secure-prescription"' in copy and "Ordonnance sécurisée" in copy
    assert "4 (quatre)" in copy
    assert "ordonnance sécurisée, en toutes lettres : quatre" in copy
    assert 'id="secure-prescription"' not in plain

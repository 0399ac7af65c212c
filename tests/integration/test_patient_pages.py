"""The health space pages on both engines: lists, one prescription with its QR code, the access
log, representatives and the pickup mode, through the web session."""

import re

from sqlalchemy import select

from eprescription.models import Prescription, Product, Representative
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD
from tests.integration.test_dispensing_api import dispense, pack_line, princeps_items
from tests.integration.test_prescriptions_api import PIN, issue

products = prescribing.products
people = prescribing.people
packs = dispensing.packs
generic_group = dispensing.generic_group
pharmacist = dispensing.pharmacist


def log_in(client, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_the_health_space_lists_what_to_collect_and_the_history(client, people, products):
    active = issue(client, people, products)
    cancelled = issue(client, people, products)
    client.post(
        f"/api/v1/prescriptions/{cancelled['id']}/cancel",
        json={"pin": PIN, "reason": "not needed"},
        headers=people["doctor"],
    )
    log_in(client, "camille")

    home = client.get("/me").get_data(as_text=True)
    history = client.get("/me/history").get_data(as_text=True)

    assert active["number"] in home and cancelled["number"] not in home
    assert "Dr Claire Martin" in home and "days left" in home
    assert cancelled["number"] in history and "Cancelled" in history


def test_one_prescription_shows_its_qr_code_inline_and_its_number(client, people, products):
    issued = issue(client, people, products)
    log_in(client, "camille")

    page = client.get(f"/me/prescriptions/{issued['id']}").get_data(as_text=True)

    assert re.search(r'role="img" aria-label="QR code of prescription [^"]+"><svg', page)
    assert f'id="prescription-number">{issued["number"]}<' in page


def test_another_patients_prescription_page_is_a_404(client, people, products):
    issued = issue(client, people, products)
    log_in(client, "lea")

    response = client.get(f"/me/prescriptions/{issued['id']}")

    assert response.status_code == 404
    assert issued["number"] not in response.get_data(as_text=True)


def test_the_access_log_page_shows_who_when_and_what(client, people, products):
    issued = issue(client, people, products)
    client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["doctor"])
    log_in(client, "camille")

    page = client.get("/me/access-log").get_data(as_text=True)

    assert "<strong>Dr Claire Martin</strong>, prescriber — RPPS 10001234565" in page
    assert f"opened prescription {issued['number']}" in page
    # In words and in the display time zone (Europe/Paris): "Dec 1, 2026 8:40 AM".
    assert re.search(
        r"<time datetime=\"[^\"]+\">[A-Z][a-z]{2} \d{1,2}, 20\d\d \d{1,2}:\d\d\s[AP]M</time>", page
    )


def test_naming_and_ending_a_representative_from_the_page(client, db_session, people, products):
    issued = issue(client, people, products)
    log_in(client, "camille")

    refused = client.post("/me/representatives", data={"nir": "123", "family_name": "Roux"})
    named = client.post(
        "/me/representatives", data={"nir": people["other_patient_nir"], "family_name": "roux"}
    )
    duplicate = client.post(
        "/me/representatives", data={"nir": people["other_patient_nir"], "family_name": "Roux"}
    )

    assert refused.status_code == 422 and "an NIR has 15 characters" in refused.get_data(True)
    assert named.status_code == 302
    assert duplicate.status_code == 409 and "already your representative" in duplicate.get_data(
        True
    )
    client.post("/logout")
    log_in(client, "lea")
    home = client.get("/me").get_data(as_text=True)
    assert "Prescriptions of Camille Dubois" in home and issued["number"] in home
    client.post("/logout")
    log_in(client, "camille")
    row = db_session.scalar(select(Representative))
    assert client.post(f"/me/representatives/{row.id}/revoke").status_code == 302
    client.post("/logout")
    log_in(client, "lea")
    assert issued["number"] not in client.get("/me").get_data(as_text=True)
    assert client.get(f"/me/prescriptions/{issued['id']}").status_code == 404


def test_the_patient_switches_the_pickup_mode_from_the_page(client, db_session, people, products):
    issued = issue(client, people, products)
    log_in(client, "camille")

    response = client.post(
        f"/me/prescriptions/{issued['id']}/pickup-mode", data={"pickup_mode": "private"}
    )

    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "only me, in person" in page
    stored = db_session.scalar(select(Prescription))
    db_session.refresh(stored)
    assert stored.pickup_mode == "private"


def euros(cents: int) -> str:
    """An amount as Babel writes it on an English page."""
    return f"€{cents // 100}.{cents % 100:02d}"


def test_the_page_and_the_history_show_what_the_pharmacy_gave(
    client, db_session, people, products, generic_group, pharmacist
):
    issued = issue(client, people, products, items=princeps_items(generic_group))
    generic, princeps = generic_group["generic_pack"], generic_group["princeps_pack"]
    receipt = dispense(
        client, pharmacist, issued, [pack_line(1, generic), pack_line(2, princeps, batch="P2")]
    ).get_json()
    log_in(client, "camille")

    page = client.get(f"/me/prescriptions/{issued['id']}").get_data(as_text=True)
    history = client.get("/me/history").get_data(as_text=True)

    section = page[page.index('id="dispensations-heading"') :]
    assert "Pharmacie des Quais, Bordeaux" in section
    assert db_session.get(Product, generic.cis).name in section
    assert f"CIP13 {generic.cip13}" in section and f"CIP13 {princeps.cip13}" in section
    assert "batch B1" in section and "batch P2" in section
    assert "Substituted for " + db_session.get(Product, generic_group["princeps"]).name in section
    assert section.count("Substituted for") == 1
    assert f"<dd>{euros(receipt['total_cents'])}</dd>" in section
    assert f"<dd>{euros(receipt['covered_cents'])}</dd>" in section
    assert f"You paid</dt><dd>{euros(receipt['patient_share_cents'])}</dd>" in section
    card = history[history.index(issued["number"]) :]
    assert "Pharmacie des Quais, Bordeaux: 2 packs (a substitute)" in card
    assert (
        f"covered {euros(receipt['covered_cents'])}, paid {euros(receipt['patient_share_cents'])}"
        in card
    )


def test_a_reversed_dispensation_says_when_and_why(client, people, products, packs, pharmacist):
    issued = issue(client, people, products)
    receipt = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).get_json()
    client.post(
        f"/api/v1/dispensations/{receipt['id']}/reversal",
        json={"reason": "boîte abîmée"},
        headers=pharmacist,
    )
    log_in(client, "camille")

    page = client.get(f"/me/prescriptions/{issued['id']}").get_data(as_text=True)

    assert 'class="dispensation reversed"' in page
    assert re.search(r"Reversed on [^<]+ by the pharmacy:</strong> boîte abîmée\.", page)
    assert "These packs count as not collected." in page
    assert '<p class="collected-by">Collected by you.</p>' in page
    assert re.search(r'role="img" aria-label="QR code of prescription [^"]+"><svg', page)

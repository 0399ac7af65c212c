"""Every page of every role on the seeded demo, in a real browser, in French and in English: on
a 390 px phone none scrolls sideways and no word of a table cell is cut across two lines, and
none has a serious or critical axe-core violation; each is photographed at 1366x900 and
390x844 into $SCREENSHOT_DIR (a pytest temporary directory by default) to be looked at."""

import os
import re
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from eprescription.db import get_session
from eprescription.domain.prescriptions import ItemDraft
from eprescription.models import Account
from eprescription.services import issuing, prescription_drafts
from eprescription.services.demo import DEMO_PIN
from eprescription.use_cases import unit_of_work
from tests.e2e.axe import AXE_SOURCE, report, violations
from tests.e2e.test_patient_journey import MOPRAL
from tests.integration.seeded_app import LOGINS, PATIENT_NIR, dispose, seeded_app
from tests.integration.test_translations import ROLES, client_of, page_paths

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCALES = {"fr": "fr-FR", "en": "en-US"}

# The words of table cells cut across two lines: each word (letters only, split at spaces,
# hyphens and slashes, where a line may break) whose pieces lie on lines of different tops.
# Identifiers (digits inside, or marked .code/.number/.identifier) may break anywhere.
WORDS_CUT_IN_CELLS = r"""
() => {
  const cut = [];
  for (const cell of document.querySelectorAll("td, th")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest(".code, .number, .identifier, .visually-hidden")) continue;
      for (const match of node.data.matchAll(/[^\s\-\u2010\u2011/]+/gu)) {
        if (/\d/.test(match[0]) || !/\p{L}/u.test(match[0])) continue;
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()]
          .filter((rect) => rect.width > 0).map((rect) => Math.round(rect.top)));
        if (tops.size > 1) cut.push(match[0]);
      }
    }
  }
  return cut;
}
"""


def treatment_running_out(app) -> str:
    """A second prescription of the demo patient, in its last 20 days with a renewal left (so
    that they may ask for it): its number."""
    with app.app_context():
        doctor = get_session().scalar(
            select(Account).where(Account.username == LOGINS["prescriber"][0])
        )
        with unit_of_work(doctor) as uow:
            issued = issuing.issue(
                uow,
                prescription_drafts.IssueRequest(
                    patient_nir=PATIENT_NIR,
                    pin=DEMO_PIN,
                    items=[ItemDraft(cis=MOPRAL, dosage_text="1 gélule le matin", quantity=1)],
                    renewals=1,
                    valid_until=date.today() + timedelta(days=20),
                ),
            )
        return issued.prescription.number


def screenshot_dir(tmp_path_factory) -> Path:
    chosen = os.environ.get("SCREENSHOT_DIR")
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo seeded on its own SQLite database (this test dispenses, asks for a renewal and
    adds a representative: the shared live_app stays as other tests expect it), served on a
    port, with every page each role reaches, found with the test client."""
    seeded, url = seeded_app("sqlite", tmp_path_factory.mktemp("pages"))
    client = seeded.app.test_client()
    number = seeded.values["number"]
    running_out = treatment_running_out(seeded.app)
    asked = client.post(
        f"/api/v1/me/prescriptions/{running_out}/renewal-request",
        json={"message": "Il ne me reste que quelques comprimés."},
        headers=seeded.bearer("patient"),
    )
    assert asked.status_code == 201, asked.get_json()
    seeded.values["request_id"] = str(asked.get_json()["id"])
    detail = client.get(f"/api/v1/me/prescriptions/{number}", headers=seeded.bearer("patient"))
    seeded.values["qr_text"] = detail.get_json()["qr_text"]
    pages = {}
    for role in ROLES:
        reader = client_of(seeded, role, "fr")
        pages[role] = [
            path
            for path in page_paths(seeded)
            if (answer := reader.get(path)).status_code == 200 and answer.mimetype == "text/html"
        ]
    server = make_server("127.0.0.1", 0, seeded.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seeded, pages
    server.shutdown()
    thread.join()
    dispose(seeded, url)


def log_in(page, role: str) -> None:
    page.goto("/login")
    if role in LOGINS:
        username, password = LOGINS[role]
        page.locator("#username").fill(username)
        page.locator("#password").fill(password)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: not url.endswith("/login"))


def visits(page, role: str, seeded, paths: list[str]):
    """Open each page of the role in turn, yielding a name for each; then the pages that only
    answer a form: the pharmacist's scanned prescription and card reading, the prescriber's
    review of a renewal."""
    log_in(page, role)
    for path in paths:
        page.goto(path)
        yield path
    if role == "pharmacist":
        page.goto("/pharmacy/scan")
        page.locator("#code").fill(seeded.values["qr_text"])
        page.locator("#scan-form button[type=submit]").click()
        page.locator("#prescription-number").wait_for()
        yield "scanned prescription"
        page.goto("/pharmacy/card")
        page.locator("#nir").fill(PATIENT_NIR)
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state()
        yield "card read"
    if role == "prescriber":
        page.goto(f"/prescriber/prescriptions/{seeded.values['number']}/renew")
        page.locator("button[aria-keyshortcuts='Control+Enter']").click()
        page.wait_for_load_state()
        yield "review"


def file_name(role: str, name: str) -> str:
    return f"{role}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-') or 'home'}"


@pytest.mark.parametrize("lang", LOCALES)
def test_no_page_scrolls_sideways_cuts_a_word_or_fails_axe_on_a_phone(
    browser, site, lang, tmp_path_factory
):
    base_url, seeded, pages = site
    shots = screenshot_dir(tmp_path_factory) if lang == "fr" else None
    problems, seen = [], []
    for role in ROLES:
        context = browser.new_context(base_url=base_url, locale=LOCALES[lang], viewport=PHONE)
        context.add_init_script(path=AXE_SOURCE)  # axe-core in every page, loaded once
        page = context.new_page()
        try:
            for name in visits(page, role, seeded, pages[role]):
                seen.append(f"{role} {name}")
                where = f"{role} {name} ({page.url})"
                assert page.evaluate("document.documentElement.lang") == lang, where
                problems.extend(f"{where}: {problem}" for problem in phone_problems(page))
                if shots:  # the French pages photographed on the phone, then on a laptop
                    photograph(page, shots / file_name(role, name), problems, where)
        finally:
            context.close()
    assert {
        "patient /me",
        "pharmacist scanned prescription",
        "admin /admin/accounts",
        "admin /admin/software",
        "admin /admin/software/new",
    } <= set(seen), seen
    assert len(seen) >= 30, seen
    assert not problems, "\n".join(problems)


def phone_problems(page) -> list[str]:
    """What is wrong with the page shown on the phone: too wide, words cut, axe violations."""
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > page.evaluate("window.innerWidth"):
        problems.append(f"{width} px wide")
    cut = page.evaluate(WORDS_CUT_IN_CELLS)
    if cut:
        problems.append(f"words cut in table cells: {cut}")
    found = violations(page)
    if found:
        problems.append(report(found))
    return problems


def photograph(page, stem: Path, problems: list[str], where: str) -> None:
    page.screenshot(path=f"{stem}-390.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > DESKTOP["width"]:
        problems.append(f"{where}: {width} px wide at {DESKTOP['width']} px")
    page.screenshot(path=f"{stem}-1366.png", full_page=True)
    page.set_viewport_size(PHONE)


def test_the_word_check_finds_a_word_cut_in_a_narrow_cell(page):
    page.set_viewport_size(PHONE)
    page.goto("/login")
    # Styles through the CSSOM: the CSP refuses style attributes in markup.
    page.evaluate(
        """document.querySelector('main').insertAdjacentHTML('beforeend',
           '<table><tr><td id="narrow">Renouvellement autorisé</td>'
           + '<td>CIP13 3400930117163</td></tr></table>');
           const cell = document.getElementById('narrow');
           cell.style.width = '3rem'; cell.style.overflowWrap = 'anywhere';"""
    )

    assert page.evaluate(WORDS_CUT_IN_CELLS) == ["Renouvellement", "autorisé"]

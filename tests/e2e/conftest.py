"""Browser fixtures: the app served on a local port, and headless Chromium (Playwright)."""

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from eprescription import migrate
from tests.conftest import make_test_app
from tests.databases import skip_or_fail

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The app on a fresh SQLite database with the demo seeded, as after `make run`."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.sqlite3'}"
    migrate.upgrade(url)
    app = make_test_app(url, WTF_CSRF_ENABLED=True)
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture(scope="session")
def live_server(live_app):
    """The base URL of the app served by a real HTTP server in a thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the system (never downloaded at run time)."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# Each page reports what its Content-Security-Policy blocked (the browser also logs it).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) and page, with the server's URL as base; the test
    fails if any page of it broke the Content-Security-Policy (an inline script or style)."""
    context = browser.new_context(base_url=live_server)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    violations: list[str] = []
    context.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "CSP violation" in message.text or "Content Security Policy" in message.text
            else None
        ),
    )
    page = context.new_page()
    yield page
    context.close()
    assert not violations, violations

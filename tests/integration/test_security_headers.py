"""Every route of the URL map, asked by every role, answers with the security headers; pages and
JSON that may carry health data or a QR text are never stored by a cache (docs/security.md)."""

import re

import pytest

from eprescription import create_app
from tests.integration.seeded_app import LOGINS, dispose, seeded_app

ROLES = ("anonymous", *LOGINS)
# Paths whose answers carry nothing personal, so caches may keep them.
PUBLIC = re.compile(
    r"^/(static/|api/v1/trust/|api/v1/audit/(checkpoint|consistency)|api/openapi\.json$"
    r"|fhir/r4/metadata$)"
)
# The query each search needs ({name}: a seeded value).
QUERIES = {
    "/api/v1/medications": "q=amlodipine",
    "/api/v1/audit/consistency": "from={size}&to={size}",
    "/fhir/r4/MedicationDispense": "prescription={number}",
    "/fhir/r4/MedicationRequest": "group-identifier={number}",
}
# GET routes (converters left out) no role of the seeded app reaches with a 2xx, and why.
NEVER_OK = {
    "/": "sends each role to its home page (a redirect)",
    "/prescriber/renewal-requests/<request_id>/decline": "no renewal request is pending",
    "/prescriber/renewal-requests/<request_id>/renew": "no renewal request is pending",
    "/prescriber/renewal-requests/<request_id>/review": "no renewal request is pending",
    "/api/v1/pharmacy/patients/<nir>/prescriptions": "gone: the NIR goes in a POST body",
    "/admin/software/<client_id>/<action>": (
        "walked with a client that does not exist, so that the walk's POST revokes none "
        "(tests/integration/test_admin_software_pages.py asks the confirmations)"
    ),
}
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style[\s>]|\sstyle=|\son[a-z]+=", re.I)


@pytest.fixture(scope="module")
def seeded(engine_name, tmp_path_factory):
    seeded, url = seeded_app(engine_name, tmp_path_factory.mktemp("headers"))
    yield seeded
    dispose(seeded, url)


def url_of(rule, values: dict[str, str]) -> str:
    """The rule's path with each parameter replaced by the seeded value of that name, and the
    query its search needs."""
    path = re.sub(r"<(?:[^<>:]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule.rule)
    query = QUERIES.get(rule.rule)
    return f"{path}?{query.format(**values)}" if query else path


def bare(rule: str) -> str:
    """A rule without its converters: /x/<row_id:y> → /x/<y>."""
    return re.sub(r"<[^<>:]+:", "<", rule)


def clients(seeded) -> dict:
    """A client per role, logged in on the pages and carrying its API token."""
    found = {}
    for role in ROLES:
        client = seeded.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        if role in LOGINS:
            username, password = LOGINS[role]
            client.post("/login", data={"username": username, "password": password})
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {seeded.tokens[role]}"
        found[role] = client
    return found


def assert_security_headers(response, path: str) -> None:
    headers = response.headers
    where = f"{response.request.method} {path} → {response.status_code}"
    policy = headers.get("Content-Security-Policy", "")
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in policy, where
    assert "unsafe" not in policy, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "no-referrer", where
    assert headers.get("Strict-Transport-Security", "").startswith("max-age=31536000"), where
    if not PUBLIC.match(path):
        assert headers.get("Cache-Control") == "no-store", where


def test_every_route_answers_every_role_with_the_security_headers(seeded):
    rules = sorted(seeded.app.url_map.iter_rules(), key=lambda rule: rule.rule)
    by_role = clients(seeded)
    reached: set[str] = set()
    checked = 0
    # Reads first, then writes (one of which is logging out), each as every role.
    for method in ("GET", "PUT", "POST"):
        for rule in rules:
            if method not in rule.methods or (method == "POST" and rule.rule == "/logout"):
                continue
            path = url_of(rule, seeded.values)
            for role in ROLES:
                client = by_role[role]
                json = {} if path.startswith(("/api/", "/fhir/")) and method != "GET" else None
                response = client.open(path, method=method, json=json)
                assert response.status_code < 500, (method, path, role, response.data[:300])
                assert_security_headers(response, rule.rule)
                checked += 1
                if method == "GET" and response.status_code < 300:
                    reached.add(bare(rule.rule))
                if response.mimetype == "text/html":
                    inline = INLINE.findall(response.get_data(as_text=True))
                    assert not inline, (path, role, inline)
                response.close()
    for role in ROLES:
        assert_security_headers(by_role[role].post("/logout"), "/logout")
    gets = {bare(rule.rule) for rule in rules if "GET" in rule.methods}
    assert gets - reached - set(NEVER_OK) == set()
    assert checked > 300


def test_hsts_is_sent_outside_development_only(tmp_path):
    def hsts(environment: str) -> str | None:
        url = f"sqlite:///{tmp_path / 'hsts.sqlite3'}"
        app = create_app({"ENVIRONMENT": environment, "DATABASE_URL": url, "SECRET_KEY": "k"})
        try:
            return app.test_client().get("/login").headers.get("Strict-Transport-Security")
        finally:
            app.extensions["db_engine"].dispose()

    assert hsts("development") is None
    assert hsts("testing") == "max-age=31536000; includeSubDomains"

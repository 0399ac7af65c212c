"""/api/docs: the page that shows the OpenAPI document, with its assets vendored under /static
(no CDN), started by a static script (no inline code), and each retryable write documenting its
Idempotency-Key header."""

import re

from tests.conftest import REPO_ROOT

VENDOR = REPO_ROOT / "eprescription" / "web" / "static" / "vendor" / "swagger-ui"
ASSET = re.compile(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"')
RETRYABLE = {
    ("post", "/api/v1/prescriptions"),
    ("post", "/api/v1/prescriptions/{prescription_id}/cancel"),
    ("post", "/api/v1/prescriptions/{prescription_id}/dispensations"),
    ("post", "/api/v1/me/prescriptions/{prescription_id}/renewal-request"),
    ("post", "/api/v1/renewal-requests/{request_id}/decline"),
}


def test_the_page_answers_with_its_assets_from_static_and_no_inline_script(client):
    page = client.get("/api/docs")

    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assets = ASSET.findall(html)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert "/static/vendor/swagger-ui/swagger-ui.css" in assets
    assert "/static/js/api-docs.js" in assets
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script"
    assert 'data-openapi-url="/api/openapi.json"' in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.data == (REPO_ROOT / "eprescription" / "web" / asset[1:]).read_bytes()
        served.close()


def test_the_vendored_files_come_with_their_licence_and_their_origin():
    names = {path.name for path in VENDOR.iterdir()}
    assert {"LICENSE", "NOTICE", "README.md", "swagger-ui-bundle.js", "swagger-ui.css"} <= names
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    assert "npm pack swagger-ui-dist@" in (VENDOR / "README.md").read_text()


def test_each_retryable_write_documents_the_idempotency_key_header(client):
    document = client.get("/api/openapi.json").get_json()
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        and any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert documented >= RETRYABLE
    assert document["paths"]["/api/v1/prescriptions"]["post"]["parameters"][0]["in"] == "header"

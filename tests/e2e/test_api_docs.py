"""/api/docs in headless Chromium: the vendored Swagger UI renders the service's own OpenAPI
document under the Content-Security-Policy (the page fixture fails on any violation), with
every asset from this origin."""

from urllib.parse import urlparse


def test_the_browsable_document_lists_the_operations_from_this_origin_only(page, live_server):
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))

    page.goto("/api/docs")
    page.wait_for_selector(".opblock", timeout=20_000)

    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/prescriptions" in summaries
    assert "/api/v1/prescriptions/{prescription_id}/dispensations" in summaries
    assert page.locator(".info .title").inner_text().startswith("eprescription")
    own = urlparse(live_server).netloc
    assert fetched and all(urlparse(url).netloc == own for url in fetched), fetched
    assert any(url.endswith("/static/vendor/swagger-ui/swagger-ui-bundle.js") for url in fetched)
    assert any(url.endswith("/api/openapi.json") for url in fetched)


def test_an_operation_shows_the_idempotency_key_header(page):
    page.goto("/api/docs#/api_prescriptions/post_api_v1_prescriptions")
    page.wait_for_selector(".opblock.is-open", timeout=20_000)

    parameters = page.locator(".opblock.is-open .parameters").inner_text()
    assert "Idempotency-Key" in parameters

"""Every refusal is RFC 9457 problem+json for the API and a readable page for a browser."""

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] and body["detail"] and body["type"]
    return body


def test_an_unknown_api_route_is_a_404_problem(client):
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_an_unknown_page_is_a_readable_404_page(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<h1>Not found</h1>" in response.get_data(as_text=True)


def test_a_wrong_method_is_a_405_problem(client):
    assert_problem(client.get("/api/v1/auth/token"), 405, "method_not_allowed")


def test_malformed_json_is_a_400_problem(client):
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")

    assert_problem(response, 400, "bad_request")


def test_wrong_types_are_reported_field_by_field(client):
    response = client.post("/api/v1/auth/token", json={"username": 5, "password": ["x"]})

    body = assert_problem(response, 422, "validation_failed")
    assert set(body["errors"]) == {"username", "password"}


def test_an_over_long_field_is_refused(client):
    response = client.post("/api/v1/auth/token", json={"username": "u" * 1000, "password": "p"})

    body = assert_problem(response, 422, "validation_failed")
    assert "username" in body["errors"]


def test_an_oversized_body_is_a_413_problem(client, app):
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    response = client.post("/api/v1/auth/token", data=too_big, content_type="application/json")

    assert_problem(response, 413, "request_too_large")


def test_the_openapi_document_lists_the_contract_paths(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    paths = response.get_json()["paths"]
    assert "/api/v1/auth/token" in paths
    assert "/api/v1/medications" in paths


def test_the_openapi_document_describes_errors_as_problems(client):
    document = client.get("/api/openapi.json").get_json()

    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])

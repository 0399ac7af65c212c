"""schemathesis against the app in-process (WSGI): every operation of the OpenAPI document,
valid and invalid requests, as every role (prescriber, pharmacist, patient, admin) and as
nobody, on made-up and on real path values, with a fixed budget: zero 5xx, and every answer as
the document says (status, media type, headers, body schema)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup
from sqlalchemy import select

from eprescription.db import get_session
from eprescription.models import Account
from eprescription.services import accounts
from tests.integration.people import operator
from tests.integration.seeded_app import LOGINS, dispose, seeded_app

ROLES = ("anonymous", *LOGINS)
EXAMPLES_PER_OPERATION = 12  # the budget: about 500 requests per engine, about a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
LOGOUT = "/api/v1/auth/logout"  # ends the token it is called with: a fresh one each time
budget = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,  # a request is timed by its own figure below, not by hypothesis
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def seeded(engine_name, tmp_path_factory):
    seeded, url = seeded_app(engine_name, tmp_path_factory.mktemp("fuzz"))
    yield seeded
    dispose(seeded, url)


def _headers(seeded, role: str, path: str) -> dict[str, str]:
    if path != LOGOUT or role not in LOGINS:
        return seeded.bearer(role)
    # Made by the service, not asked of POST /auth/token: the fuzzed wrong passwords sent there
    # throttle this client, which is not what this test is about.
    with seeded.app.app_context():
        session = get_session()
        account = session.scalars(select(Account).where(Account.username == LOGINS[role][0])).one()
        with operator(session) as uow:
            token, _expires_at = accounts.issue_token(uow, account, lifetime_seconds=600)
    return {"Authorization": f"Bearer {token}"}


def test_no_request_of_any_role_gets_a_5xx_or_an_answer_the_document_does_not_describe(seeded):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", seeded.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    sent = 0
    statuses: set[int] = set()
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @budget
        @given(case=cases, role=st.sampled_from(ROLES), real=st.booleans())
        def call(case, role, real):
            nonlocal sent
            if real and case.path_parameters:  # a real prescription, dispensation, request …
                case.path_parameters = {
                    name: seeded.values.get(name, value)
                    for name, value in case.path_parameters.items()
                }
            response = case.call(headers=_headers(seeded, role, case.path))
            sent += 1
            statuses.add(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except (Failure, FailureGroup) as error:
                found = error.exceptions if isinstance(error, FailureGroup) else [error]
                failures.extend(
                    f"{role} {case.method} {case.formatted_path} → {response.status_code}: "
                    f"{str(failure)[:300]}"
                    for failure in found
                )

        call()
    assert len(operations) >= 30
    assert sent >= len(operations) * EXAMPLES_PER_OPERATION // 2
    assert {200, 401, 403, 404, 422} <= statuses, statuses
    assert not failures, "\n".join(sorted(set(failures))[:40])

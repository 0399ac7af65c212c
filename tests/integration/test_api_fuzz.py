"""schemathesis against the app in-process (WSGI): every operation of the OpenAPI document,
valid and invalid requests, as every role and as nobody, with a fixed budget: zero 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.integration.seeded_app import LOGINS, dispose, seeded_app

ROLES = ("anonymous", *LOGINS)
EXAMPLES_PER_OPERATION = 12  # the budget: about 450 requests per engine, under a minute
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


def test_no_request_of_any_role_gets_a_5xx(seeded):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", seeded.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    sent = 0
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @budget
        @given(case=cases, role=st.sampled_from(ROLES))
        def call(case, role):
            nonlocal sent
            response = case.call(headers=seeded.bearer(role))
            sent += 1
            if response.status_code >= 500:
                failures.append(
                    f"{role} {case.method} {case.formatted_path} → {response.status_code}: "
                    f"{response.text[:200]}"
                )

        call()
    assert len(operations) >= 30
    assert sent >= len(operations) * EXAMPLES_PER_OPERATION // 2
    assert not failures, "\n".join(failures)

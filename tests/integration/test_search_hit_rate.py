"""The medication search against the full BDPM, on a fixed set of real queries with the first
result a prescriber expects (medication_queries.tsv): its hit rate at 1 and at 3."""

from pathlib import Path

import pytest

from eprescription.models import Role
from eprescription.services import accounts
from tests.integration.people import add_account, operator

QUERIES = Path(__file__).with_name("medication_queries.tsv")
# The floors: below them the search has become worse than a doctor may trust.
HIT_RATE_AT_1_MIN = 0.90
HIT_RATE_AT_3_MIN = 1.00
QUERIES_MIN = 50


def expectations() -> list[tuple[str, str, str, str]]:
    """(query, kind, id, why) of each line of the data file but the comments."""
    rows = [line.split("\t") for line in QUERIES.read_text(encoding="utf-8").splitlines()]
    return [tuple(row) for row in rows if row[0] and not row[0].startswith("#")]


def shown(page: dict) -> list[set[tuple[str, str]]]:
    """What the prescriber's list shows, in its order (the substance lines, then the products),
    each result as the (kind, id) pairs it answers to."""
    lines = [
        {("substance", "|".join(line["substance"][key] for key in ("code", "strength", "form")))}
        for line in page["substances"]
    ]
    products = [
        {("product", item["cis"]), ("product-name", item["name"])} for item in page["items"]
    ]
    return lines + products


@pytest.mark.slow
def test_the_first_result_is_the_one_a_prescriber_expects(client, db_session, catalog):
    account = add_account(db_session, Role.PRESCRIBER)
    with operator(db_session) as uow:
        token, _expires_at = accounts.issue_token(uow, account, 3600)
    cases = expectations()
    at_1, at_3, misses = 0, 0, []
    for query, kind, expected, why in cases:
        response = client.get(
            "/api/v1/medications",
            query_string={"q": query, "page_size": 8},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        answers = shown(response.get_json())
        place = next(
            (rank for rank, pairs in enumerate(answers) if (kind, expected) in pairs), None
        )
        at_1 += place == 0
        at_3 += place is not None and place < 3
        if place != 0:
            first = sorted(answers[0]) if answers else None
            misses.append(f"{query!r}: expected {expected} ({why}) at {place}, first {first}")
    rate_1, rate_3 = at_1 / len(cases), at_3 / len(cases)
    report = f"hit rate at 1: {rate_1:.1%}, at 3: {rate_3:.1%} over {len(cases)} queries"
    print("\n" + report + "".join(f"\n  {miss}" for miss in misses))

    assert len(cases) >= QUERIES_MIN
    assert rate_1 >= HIT_RATE_AT_1_MIN, report + "\n" + "\n".join(misses)
    assert rate_3 >= HIT_RATE_AT_3_MIN, report + "\n" + "\n".join(misses)

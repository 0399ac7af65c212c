"""Each operation of run.py as an in-process request (Flask test client): what run.py's
statement count and cpu_profile.py send."""

import secrets
from collections.abc import Callable

from issue import PIN
from population import Population


def requests(
    client, population: Population, dispensable: list, prescribers: list[str]
) -> dict[str, Callable]:
    """{operation: send(i)}, the i-th request of each; issues and searches are made by
    `prescribers` in turn, dispensations take the i-th of `dispensable`."""

    def bearer(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def one_of(values: list, i: int):
        return values[i % len(values)]

    pharmacist = population.pharmacist_tokens[-1]
    return {
        "issue": lambda i: client.post(
            "/api/v1/prescriptions",
            json={
                "patient_nir": one_of(population.patient_nirs, i),
                "pin": PIN,
                "items": one_of(population.issue_items, i),
                "acknowledgement_reason": "Benchmark: the treatment is meant.",
            },
            headers=bearer(one_of(prescribers, i)),
        ),
        "scan": lambda i: client.post(
            "/api/v1/pharmacy/scan",
            json={"code": one_of(population.scan_codes, i)},
            headers=bearer(pharmacist),
        ),
        "dispense": lambda i: client.post(
            f"/api/v1/prescriptions/{dispensable[i]['id']}/dispensations",
            json=dispensable[i]["body"],
            headers={**bearer(pharmacist), "Idempotency-Key": secrets.token_hex(16)},
        ),
        "patient_read": lambda i: client.get(
            "/api/v1/me/prescriptions",
            headers=bearer(one_of(population.patient_tokens, i)),
        ),
        "search": lambda i: client.get(
            "/api/v1/medications",
            query_string={"q": one_of(population.queries, i)},
            headers=bearer(one_of(prescribers, i)),
        ),
    }

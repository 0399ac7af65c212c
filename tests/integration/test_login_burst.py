"""Wrong passwords sent all at once, from real threads against the real app, on both engines:
every one is counted, and the right password is refused after the burst."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from sqlalchemy import select

from eprescription.domain import login_throttle as rules
from eprescription.models import LoginThrottle, Role
from tests.integration.people import PASSWORD, add_account

TOKEN = "/api/v1/auth/token"
BURST = 10


def test_ten_wrong_passwords_at_once_count_ten_and_the_right_one_is_then_refused(app, db_session):
    add_account(db_session, Role.PATIENT)
    start = Barrier(BURST)

    def wrong(n: int) -> int:
        # Each thread its own client (its own app context and database session), as gunicorn
        # workers would be; a client address of its own, so only the username's count binds.
        client = app.test_client()
        start.wait()
        response = client.post(
            TOKEN,
            json={"username": "camille", "password": f"wrong-{n}"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        )
        return response.status_code

    with ThreadPoolExecutor(BURST) as pool:
        statuses = list(pool.map(wrong, range(BURST)))
    right = app.test_client().post(
        TOKEN,
        json={"username": "camille", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.200"},
    )

    assert set(statuses) <= {401, 429}, statuses
    row = db_session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.username == "camille")
        .execution_options(populate_existing=True)
    )
    assert row is not None and row.failures == BURST
    assert rules.MAX_FAILURES < BURST
    assert right.status_code == 429

"""Login throttling on both engines: five wrong passwords lock a username for fifteen minutes,
known or not, on the login page and the token endpoint alike."""

from datetime import timedelta

from sqlalchemy import select, update

from eprescription.domain import login_throttle as rules
from eprescription.models import LoginThrottle, Role
from eprescription.models.base import utcnow
from tests.integration.people import PASSWORD, add_account

TOKEN = "/api/v1/auth/token"


def token(client, username: str, password: str):
    return client.post(TOKEN, json={"username": username, "password": password})


def throttle(session, username: str) -> LoginThrottle | None:
    return session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.username == username)
        .execution_options(populate_existing=True)
    )


def test_the_fifth_wrong_password_locks_even_the_right_one_out(client, db_session):
    add_account(db_session, Role.PATIENT)

    wrong = [token(client, "camille", f"wrong-{n}") for n in range(rules.MAX_FAILURES)]
    right = token(client, "camille", PASSWORD)

    assert [r.status_code for r in wrong] == [401] * rules.MAX_FAILURES
    assert right.status_code == 429
    problem = right.get_json()
    assert problem["code"] == "too_many_login_failures"
    assert "try again in 15 minutes" in problem["detail"]
    row = throttle(db_session, "camille")
    assert row.failures == 0 and row.locked_until > utcnow() + timedelta(minutes=14)


def test_an_unknown_username_is_locked_the_same_way(client, db_session):
    add_account(db_session, Role.PATIENT)
    for n in range(rules.MAX_FAILURES):
        token(client, "camile", f"guess-{n}")
        token(client, "camille", f"guess-{n}")

    unknown, known = token(client, "camile", "x"), token(client, "camille", "x")

    assert unknown.status_code == known.status_code == 429
    assert unknown.get_json()["detail"] == known.get_json()["detail"]


def test_a_success_forgets_the_wrong_passwords_before_it(client, db_session):
    add_account(db_session, Role.PATIENT)
    for n in range(rules.MAX_FAILURES - 1):
        assert token(client, "Camille ", f"wrong-{n}").status_code == 401
    assert throttle(db_session, "camille").failures == rules.MAX_FAILURES - 1

    assert token(client, "camille", PASSWORD).status_code == 200

    assert throttle(db_session, "camille") is None
    assert token(client, "camille", "wrong-again").status_code == 401


def test_the_lock_ends_by_itself_after_fifteen_minutes(client, db_session):
    add_account(db_session, Role.PATIENT)
    for n in range(rules.MAX_FAILURES):
        token(client, "camille", f"wrong-{n}")
    assert token(client, "camille", PASSWORD).status_code == 429

    db_session.execute(update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
    db_session.commit()

    assert token(client, "camille", PASSWORD).status_code == 200


def test_the_login_page_says_why_and_an_administrator_can_unlock(client, db_session, runner):
    add_account(db_session, Role.PATIENT)
    for n in range(rules.MAX_FAILURES):
        client.post("/login", data={"username": "camille", "password": f"wrong-{n}"})

    locked = client.post("/login", data={"username": "camille", "password": PASSWORD})
    french = client.post(
        "/login",
        data={"username": "camille", "password": PASSWORD},
        headers={"Accept-Language": "fr"},
    )
    unlocked = runner.invoke(args=["users", "unlock", "Camille"])
    again = client.post("/login", data={"username": "camille", "password": PASSWORD})

    assert locked.status_code == 200
    assert "Too many wrong passwords for this username: try again in 15 minutes." in (
        locked.get_data(as_text=True)
    )
    assert "Trop de mots de passe erronés pour cet identifiant" in french.get_data(as_text=True)
    assert unlocked.exit_code == 0 and "camille: unlocked." in unlocked.output
    assert again.status_code == 302
    assert runner.invoke(args=["users", "unlock", "camille"]).output == (
        "camille: was not locked.\n"
    )


def test_an_administrator_disables_enables_and_resets_a_password(client, db_session, runner):
    add_account(db_session, Role.PATIENT)
    issued = token(client, "camille", PASSWORD).get_json()["access_token"]
    for n in range(rules.MAX_FAILURES):
        token(client, "camille", f"wrong-{n}")

    disabled = runner.invoke(args=["users", "disable", "camille"])
    refused = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {issued}"})
    enabled = runner.invoke(args=["users", "enable", "camille"])
    still_valid = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {issued}"})
    short = runner.invoke(args=["users", "set-password", "camille", "--password", "short"])
    reset = runner.invoke(
        args=["users", "set-password", "camille", "--password", "a-new-long-password"]
    )
    unknown = runner.invoke(args=["users", "disable", "nobody"])

    assert disabled.exit_code == 0 and "camille: disabled." in disabled.output
    assert refused.status_code == 401
    assert enabled.exit_code == 0 and still_valid.status_code == 200
    assert short.exit_code == 1 and "password: at least 10 characters" in short.output
    assert reset.exit_code == 0, reset.output
    # The new password works at once (the lock is lifted), the old one and old token do not.
    assert token(client, "camille", PASSWORD).status_code == 401
    assert token(client, "camille", "a-new-long-password").status_code == 200
    old = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {issued}"})
    assert old.status_code == 401
    assert unknown.exit_code == 1 and "No account is named 'nobody'." in unknown.output

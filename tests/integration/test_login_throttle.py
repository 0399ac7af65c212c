"""Login throttling on both engines: after five wrong passwords a username waits (a minute,
doubling up to fifteen), known or not, on the login page and the token endpoint alike; its
owner on a device they logged in from before does not."""

from datetime import timedelta

from sqlalchemy import select, update

from eprescription.domain import login_throttle as rules
from eprescription.models import LoginThrottle, Role
from eprescription.models.base import utcnow
from tests.integration.people import PASSWORD, add_account

TOKEN = "/api/v1/auth/token"


def token(client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        TOKEN,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def throttle(session, username: str) -> LoginThrottle | None:
    return session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.username == username)
        .execution_options(populate_existing=True)
    )


def test_after_the_fifth_wrong_password_even_the_right_one_waits_a_minute(client, db_session):
    add_account(db_session, Role.PATIENT)

    wrong = [token(client, "camille", f"wrong-{n}") for n in range(rules.MAX_FAILURES)]
    right = token(client, "camille", PASSWORD)

    assert [r.status_code for r in wrong] == [401] * rules.MAX_FAILURES
    assert right.status_code == 429
    assert 55 <= int(right.headers["Retry-After"]) <= 60
    problem = right.get_json()
    assert problem["code"] == "too_many_login_failures"
    assert "try again in 1 min." in problem["detail"]
    row = throttle(db_session, "camille")
    assert row.failures == rules.MAX_FAILURES
    assert row.last_failure_at > utcnow() - timedelta(minutes=1)


def test_each_wrong_password_after_a_wait_doubles_the_next_wait(client, db_session):
    add_account(db_session, Role.PATIENT)
    for n in range(rules.MAX_FAILURES):
        token(client, "camille", f"wrong-{n}")
    waits = []
    for n in range(3):
        # The wait is over: one more wrong password, then the next wait is announced.
        db_session.execute(
            update(LoginThrottle).values(last_failure_at=utcnow() - timedelta(minutes=20))
        )
        db_session.commit()
        assert token(client, "camille", f"again-{n}").status_code == 401
        waits.append(int(token(client, "camille", PASSWORD).headers["Retry-After"]))

    assert [round(wait / 60) for wait in waits] == [2, 4, 8]


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


def test_the_wait_ends_by_itself(client, db_session):
    add_account(db_session, Role.PATIENT)
    for n in range(rules.MAX_FAILURES):
        token(client, "camille", f"wrong-{n}")
    assert token(client, "camille", PASSWORD).status_code == 429

    db_session.execute(
        update(LoginThrottle).values(last_failure_at=utcnow() - timedelta(minutes=1, seconds=1))
    )
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

    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) <= 60
    assert "Too many wrong passwords for this username: try again in 1 min." in (
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
    after_enable = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {issued}"})
    short = runner.invoke(args=["users", "set-password", "camille", "--password", "short"])
    reset = runner.invoke(
        args=["users", "set-password", "camille", "--password", "a-new-long-password"]
    )
    unknown = runner.invoke(args=["users", "disable", "nobody"])

    assert disabled.exit_code == 0 and "camille: disabled." in disabled.output
    assert refused.status_code == 401
    # Disabling ended the token for good: enabling again does not bring it back.
    assert enabled.exit_code == 0 and after_enable.status_code == 401
    assert short.exit_code == 1 and "password: at least 10 characters" in short.output
    assert reset.exit_code == 0, reset.output
    # The new password works at once (the waits are lifted), the old one and old token do not.
    assert token(client, "camille", PASSWORD).status_code == 401
    assert token(client, "camille", "a-new-long-password").status_code == 200
    old = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {issued}"})
    assert old.status_code == 401
    assert unknown.exit_code == 1 and "No account is named 'nobody'." in unknown.output


def test_the_owner_logs_in_from_their_device_while_their_username_is_attacked(app, db_session):
    add_account(db_session, Role.PATIENT)
    owner = app.test_client()
    first = owner.post("/login", data={"username": "camille", "password": PASSWORD})
    assert first.status_code == 302
    owner.post("/logout")
    attacker = app.test_client()
    # Guesses from many addresses (a botnet): the per-client throttle never binds, the
    # username's count does.
    attacks = [
        token(attacker, "camille", f"guess-{n}", address=f"203.0.113.{n + 1}").status_code
        for n in range(12)
    ]

    from_elsewhere = token(attacker, "camille", PASSWORD, address="203.0.113.100")
    from_the_device = owner.post("/login", data={"username": "camille", "password": PASSWORD})

    assert attacks[: rules.MAX_FAILURES] == [401] * rules.MAX_FAILURES
    assert set(attacks[rules.MAX_FAILURES :]) == {429}
    assert from_elsewhere.status_code == 429
    assert from_the_device.status_code == 302 and from_the_device.location == "/me"
    assert throttle(db_session, "camille").failures == rules.MAX_FAILURES


def test_a_known_device_counts_its_own_wrong_passwords(app, db_session):
    add_account(db_session, Role.PATIENT)
    device = app.test_client()
    assert token(device, "camille", PASSWORD).status_code == 200  # the device cookie is set

    wrong = [token(device, "camille", f"typo-{n}").status_code for n in range(rules.MAX_FAILURES)]
    waiting = token(device, "camille", PASSWORD)
    elsewhere = token(app.test_client(), "camille", PASSWORD, address="192.0.2.7")

    assert wrong == [401] * rules.MAX_FAILURES and waiting.status_code == 429
    assert throttle(db_session, "camille") is None  # the username itself is not slowed
    assert elsewhere.status_code == 200


def test_a_forged_device_cookie_spares_nothing(app, db_session):
    add_account(db_session, Role.PATIENT)
    attacker = app.test_client()
    attacker.set_cookie("device", "eyJjYW1pbGxlIjoiMDAwMCJ9.forged.signature")
    for n in range(rules.MAX_FAILURES):
        token(attacker, "camille", f"guess-{n}", address=f"203.0.113.{n + 1}")

    assert token(attacker, "camille", PASSWORD, address="203.0.113.99").status_code == 429
    assert throttle(db_session, "camille").failures == rules.MAX_FAILURES

"""Whatever fails under gunicorn (a worker timeout, an exception in a view, a database error, a
malformed request line, wrong passwords), at DEBUG, no log line carries a NIR, an access code,
a PIN, a password or a token — whatever access_log_format the operator sets."""

import contextlib
import socket

from tests.gunicorn_server import gunicorn
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD
from tests.integration.test_dispensing_api import add_pharmacist
from tests.integration.test_prescriptions_api import PATIENT_NIR, issue

people = prescribing.people
products = prescribing.products

PIN = "482915"
WRONG_PASSWORD = "wrong-horse-battery-staple"
# Everything an operator might ask gunicorn to log about a request, secrets included.
LEAKY_FORMAT = '%(h)s "%(r)s" %(U)s %(q)s %(s)s "%(f)s" "%({authorization}i)s" "%({cookie}i)s"'


def test_no_secret_reaches_any_log_whatever_fails(
    client, db_session, engine_name, tmp_path, database_url, people, products
):
    pharmacist = add_pharmacist(db_session, "ph.bernard")
    token = pharmacist["Authorization"].removeprefix("Bearer ")
    qr_text = issue(client, people, products)["qr_text"]
    access_code = qr_text.rsplit(".", 1)[1]
    secrets = {
        "NIR": PATIENT_NIR,
        "QR text": qr_text,
        "access code": access_code,
        "PIN": PIN,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "token": token,
    }
    leaky = {
        "Authorization": f"Bearer {token}",
        "Cookie": f"session={token}",
        "Referer": f"http://127.0.0.1/pharmacy/patients/{PATIENT_NIR}?code={qr_text}",
    }
    app = "tests.failing_wsgi:app"
    with gunicorn(
        tmp_path, database_url, app, timeout=2, args=("--access-logformat", LEAKY_FORMAT)
    ) as server:
        token_url = "/api/v1/auth/token"
        refused = server.call(
            "POST", token_url, {"username": "ph.bernard", "password": WRONG_PASSWORD}
        )
        server.call("POST", token_url, {"username": "ph.bernard\x00", "password": PASSWORD})
        boom = server.call(
            "POST", f"/boom/{PATIENT_NIR}?code={qr_text}", {"pin": PIN, "password": PASSWORD}, leaky
        )
        database = server.call("GET", f"/db/{PATIENT_NIR}?code={qr_text}", headers=leaky)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(f"GET /x/{PATIENT_NIR}?code={qr_text} HTTP/1.1 junk\r\n\r\n".encode())
            malformed = raw.recv(200)
        stuck = server.worker_pid()
        with contextlib.suppress(OSError):  # the worker may be aborted under the request
            server.call("GET", f"/slow/{PATIENT_NIR}?code={qr_text}", headers=leaky)
        server.wait_ready(after_pid=stuck)
        logs = server.logs()

    assert refused[0] == 401
    assert boom[0] == 500 and database[0] == 500
    assert malformed.startswith(b"HTTP/1.1 400")
    # Each failure did reach the logs…
    assert "WORKER TIMEOUT" in logs
    assert "Error handling request" in logs
    assert "unexpected error on POST /boom/<nir>" in logs
    assert "RuntimeError: no card for [withheld]" in logs
    if engine_name == "postgresql":  # the server echoes the value it could not read
        assert 'invalid input syntax for type date: "[withheld]"' in logs
    else:
        assert "no_such_table" in logs
    assert "Invalid request from ip=127.0.0.1" in logs
    assert "sqlalchemy.engine" in logs
    # …and none of the secrets did.
    leaked = [name for name, secret in secrets.items() if secret in logs]
    assert leaked == [], "\n".join(
        line for line in logs.splitlines() if any(s in line for s in secrets.values())
    )

"""What the service logs never carries a patient's identifier, a token or a password."""

import contextlib
import logging
import threading
import urllib.error
import urllib.request

from sqlalchemy import text
from werkzeug.serving import make_server

from eprescription import create_app
from eprescription.db import make_engine
from eprescription.logs import redact

NIR = "285037505612306"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
PASSWORD = "correct-horse-battery"


def test_an_unexpected_error_logs_the_route_pattern_not_the_path(caplog, tmp_path):
    app = create_app(
        {
            "ENVIRONMENT": "testing",
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'log.sqlite3'}",
        }
    )

    @app.route("/boom/<nir>")
    def boom(nir):
        raise RuntimeError("unexpected")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get(f"/boom/{NIR}", headers={"Accept": "application/json"})

    assert response.status_code == 500
    assert "/boom/<nir>" in caplog.text
    assert NIR not in caplog.text


def test_a_database_error_message_does_not_carry_the_statement_parameters(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'params.sqlite3'}")
    try:
        with engine.connect() as connection:
            connection.execute(text("create table people (nir text unique)"))
            connection.execute(text("insert into people values (:nir)"), {"nir": NIR})
            try:
                connection.execute(text("insert into people values (:nir)"), {"nir": NIR})
            except Exception as error:  # the IntegrityError whose message we inspect
                message = str(error)
            else:
                raise AssertionError("the duplicate was accepted")
    finally:
        engine.dispose()

    assert "UNIQUE" in message
    assert NIR not in message


def test_the_werkzeug_development_server_log_withholds_the_path_and_query(caplog, tmp_path):
    app = create_app(
        {"ENVIRONMENT": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}"}
    )
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with caplog.at_level(logging.DEBUG):
            url = f"http://127.0.0.1:{server.port}/pharmacy/patients/{NIR}?code=EP1.ABC.{TOKEN}"
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(url, timeout=10)
    finally:
        server.shutdown()
        thread.join()

    assert '"GET [withheld] HTTP/1.1" 404' in caplog.text
    assert NIR not in caplog.text and TOKEN not in caplog.text


def test_sqlalchemy_at_debug_shows_neither_parameters_nor_fetched_rows(caplog, tmp_path):
    create_app({"ENVIRONMENT": "testing", "DATABASE_URL": "sqlite://"})  # installs the redaction
    engine = make_engine(f"sqlite:///{tmp_path / 'rows.sqlite3'}")
    try:
        with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
            engine.echo = "debug"
            with engine.connect() as connection:
                connection.execute(text("create table people (nir text)"))
                connection.execute(text("insert into people values (:nir)"), {"nir": PASSWORD})
                connection.execute(text("select nir from people")).all()
    finally:
        engine.dispose()

    assert "Row [withheld]" in caplog.text
    assert PASSWORD not in caplog.text


def test_an_exception_logs_its_redacted_message_and_never_its_local_variables(caplog):
    create_app({"ENVIRONMENT": "testing", "DATABASE_URL": "sqlite://"})
    pin, password = "482915", PASSWORD  # locals of the failing frame

    with caplog.at_level(logging.ERROR):
        try:
            raise KeyError(f"{NIR} not found for Bearer {TOKEN} ({len(pin + password)})")
        except KeyError:
            logging.getLogger("eprescription.test").exception("lookup failed")

    assert "KeyError: '[withheld] not found for [withheld]" in caplog.text
    for secret in (NIR, TOKEN, pin, password):
        assert secret not in caplog.text


def test_database_errors_lose_the_values_postgresql_echoes():
    detail = f"DETAIL:  Key (national_id)=({NIR}) already exists."
    cast = f'invalid input syntax for type integer: "{PASSWORD}"'

    assert redact(detail) == "DETAIL:  Key (national_id)=([withheld]) already exists."
    assert redact(cast) == 'invalid input syntax for type integer: "[withheld]"'
    assert redact("unexpected error on GET /api/v1/prescriptions/<number>") == (
        "unexpected error on GET /api/v1/prescriptions/<number>"
    )

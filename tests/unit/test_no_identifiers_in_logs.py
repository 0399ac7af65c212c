"""What the service logs never carries a patient's identifier."""

import logging

from sqlalchemy import text

from eprescription import create_app
from eprescription.db import make_engine

NIR = "285037505612306"


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

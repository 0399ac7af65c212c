"""The real app with three routes that fail on purpose, each holding secrets (NIR, access code,
PIN, password, token) in its path, locals and message: what gunicorn serves in the log tests."""

import logging
import time

from flask import request
from sqlalchemy import text

from eprescription import create_app
from eprescription.db import get_session

app = create_app({"WTF_CSRF_ENABLED": False})  # the JSON POST below carries no form token
logging.basicConfig(level=logging.DEBUG)  # an operator who logs everything, SQL included
logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)


@app.post("/boom/<nir>")
def boom(nir):
    pin, password = request.json["pin"], request.json["password"]
    token = request.headers["Authorization"].removeprefix("Bearer ")
    code = request.args["code"]
    # The secrets sit in locals (a traceback must not show them) and two in the message (a log
    # must redact them by their shape).
    raise RuntimeError(f"no card for {nir} (Bearer {token}) [{len(pin + password + code)}]")


@app.get("/slow/<nir>")
def slow(nir):
    time.sleep(60)  # beyond the worker timeout: gunicorn aborts the worker
    return nir


@app.get("/db/<nir>")
def database_error(nir):
    session = get_session()
    if session.get_bind().dialect.name == "postgresql":
        # The server echoes what it cannot read, whatever hide_parameters says.
        session.execute(text("SELECT CAST(:code AS date)"), {"code": request.args["code"]})
    session.execute(text("SELECT :nir FROM no_such_table"), {"nir": nir})
    return nir

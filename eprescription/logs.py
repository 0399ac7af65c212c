"""What the service writes to its logs never carries a secret: one redaction for every log."""

import logging
import re
import traceback
from typing import Any

from flask import Flask
from gunicorn.glogging import Logger as GunicornBaseLogger

WITHHELD = "[withheld]"
# A request target (path and query) in a message: "GET /api/…", "Error handling request /…",
# "Invalid request line 'GET /…'". A path can carry a NIR, a query string a code.
# A route's pattern ("/boom/<nir>", what errors.py logs) names no value and is kept.
_TARGET = re.compile(r"(?<=[\s'\"(=])/(?![^\s'\"]*<)[^\s'\"]*")
# Anything shaped like a national identifier, wherever it is: a French NIR (13 or 15
# characters, Corsica 2A/2B) or an Estonian isikukood (11 digits).
_NATIONAL_ID = re.compile(
    r"""(?<![0-9A-Za-z])
    (?: [0-9]{5} (?:[0-9]{2}|2[AaBb]) [0-9]{6} (?:[0-9]{2})?  # NIR, with or without its key
      | [1-6][0-9]{10} )                                     # isikukood
    (?![0-9A-Za-z])""",
    re.VERBOSE,
)
# Bearer tokens, JWTs and compact JWS (three base64url parts starting with eyJ).
_TOKEN = re.compile(r"(?i)\bbearer\s+\S+|\beyJ[\w-]*\.[\w-]*\.[\w-]*")
# A value in a PostgreSQL error's DETAIL ("Key (national_id)=(…) already exists"): the
# hidden SQL parameters come back in the server's own words.
_KEY_VALUE = re.compile(r"\)=\([^\n]*?\)(?= |$|\n)")
# PostgreSQL echoes a value it cannot read, last on its line: 'invalid input syntax for type
# date: "…"', 'date/time field value out of range: "…"'.
_INPUT_VALUE = re.compile(r'(: )"[^"\n]*"(?=\s*$)', re.MULTILINE)
# Access logs: what in a request can carry a secret (path, query, referer, credentials).
_SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "referer", "location")
_SECRET_ENVIRON = ("uri", "path", "query", "cookie", "authorization", "referer", "script_name")


def redact(text: str) -> str:
    """`text` with request targets, identifiers, tokens and database key values withheld."""
    text = _TARGET.sub(WITHHELD, text)
    return _redact_values(text)


def _redact_values(text: str) -> str:
    text = _TOKEN.sub(WITHHELD, text)
    text = _KEY_VALUE.sub(f")=({WITHHELD})", text)
    text = _INPUT_VALUE.sub(rf'\1"{WITHHELD}"', text)
    return _NATIONAL_ID.sub(WITHHELD, text)


def redact_traceback(exc_info: Any) -> str:
    """A formatted traceback (no local variables: Python's format shows none) whose exception
    lines are redacted; the frames (indented) keep their file paths."""
    lines = "".join(traceback.format_exception(*exc_info)).rstrip("\n").split("\n")
    return "\n".join(
        _redact_values(line) if line.startswith(" ") else redact(line) for line in lines
    )


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    """The record as its redacted message (arguments merged in) and redacted traceback, so no
    handler, filter or formatter downstream can see the secret."""
    if record.name.startswith("sqlalchemy.engine") and record.msg == "Row %r":
        record.msg = f"Row {WITHHELD}"  # SQLAlchemy at DEBUG prints each row it fetches
    else:
        record.msg = redact(record.getMessage())
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact_traceback(record.exc_info)
        record.exc_info = None
    if record.stack_info:
        record.stack_info = _redact_values(record.stack_info)
    return record


def install() -> None:
    """Redact every log record of this process when it is made, whichever logger made it
    (the app's, Werkzeug's request log, gunicorn's, SQLAlchemy's) and wherever it goes: a
    handler or logging configuration added later cannot bypass it. Idempotent."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redacted(current(*args, **kwargs))

    factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def init_app(_app: Flask) -> None:
    """Make this process's logs redacted (done when an app is made, never at import)."""
    install()


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's logger (`logger_class` in gunicorn.conf.py): every record redacted (worker
    timeouts, "Error handling request /…", invalid request lines), and the access log's
    secret-bearing atoms withheld whatever `access_log_format` an operator sets."""

    def setup(self, cfg: Any) -> None:
        install()  # in the master too, which never makes the app
        super().setup(cfg)

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        method, protocol = environ.get("REQUEST_METHOD", "-"), environ.get("SERVER_PROTOCOL", "-")
        atoms.update(r=f"{method} {WITHHELD} {protocol}", U=WITHHELD, q=WITHHELD, f=WITHHELD)
        for name in list(atoms):
            lowered = name.lower()
            if (lowered.endswith(("}i", "}o")) and lowered[1:-2] in _SECRET_HEADERS) or (
                lowered.endswith("}e") and any(part in lowered for part in _SECRET_ENVIRON)
            ):
                atoms[name] = WITHHELD
        return atoms

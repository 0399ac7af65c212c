"""Outside input no view should ever see, refused before any view: JSON nested too deep, text
fields that hold a NUL character or bytes that are not UTF-8 (docs/security.md)."""

from urllib.parse import unquote_to_bytes

from flask import Flask, current_app, request

from eprescription.domain import bounded_json
from eprescription.domain.errors import InvalidCharacters, JsonTooDeep

NUL = "\x00"
NUL_MESSAGE = "A NUL character (U+0000) is not allowed in text."
FORM = "application/x-www-form-urlencoded"


def init_app(app: Flask) -> None:
    app.before_request(refuse_unreadable_input)


def refuse_unreadable_input() -> None:
    """Raise JsonTooDeep or InvalidCharacters (naming each field) for what must never reach a
    parser, a query or the database (PostgreSQL refuses NUL in text)."""
    problems: dict[str, list[str]] = {}
    path = request.environ.get("PATH_INFO", "")  # WSGI: the raw bytes, one char each
    _check_raw("path", path.encode("latin-1", "replace"), problems)
    _check_raw("query", _url_decoded(request.query_string), problems)
    if request.is_json:
        body, deepest = request.get_data(cache=True), current_app.config["JSON_DEPTH_MAX"]
        if bounded_json.deeper_than(body, deepest):
            raise JsonTooDeep(f"JSON bodies nest at most {deepest} levels deep.")
        if _check_raw("json", body, problems):
            _check_json(body, problems)
    elif request.mimetype == FORM:
        _check_raw("form", _url_decoded(request.get_data(cache=True)), problems)
    fields = [
        *(("path", value) for value in (request.view_args or {}).values()),
        *request.args.items(multi=True),
        *request.form.items(multi=True),
        *(("header " + name, value) for name, value in request.headers.items()),
    ]
    for name, value in fields:
        if NUL in name or (isinstance(value, str) and NUL in value):
            problems.setdefault(_shown(name), []).append(NUL_MESSAGE)
    if problems:
        raise InvalidCharacters(
            "Some fields hold characters that are not allowed: " + ", ".join(sorted(problems)),
            errors=problems,
        )


def _shown(name: str) -> str:
    return name.replace(NUL, "\\0")


def _url_decoded(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def _check_raw(name: str, raw: bytes, problems: dict[str, list[str]]) -> bool:
    """True if `raw` is UTF-8 text; else a problem for `name`."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.setdefault(name, []).append("This is not UTF-8 text.")
        return False
    return True


def _check_json(body: bytes, problems: dict[str, list[str]]) -> None:
    """Each key and string of a JSON body (depth already bounded) that holds a NUL, by path."""
    try:
        document = bounded_json.loads(body, current_app.config["JSON_DEPTH_MAX"])
    except ValueError:
        return  # not JSON at all: the view's parser answers that
    pending: list[tuple[str, object]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                child = _child(path, _shown(key))
                if NUL in key:
                    problems.setdefault(child, []).append(NUL_MESSAGE)
                pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((_child(path, str(index)), item) for index, item in enumerate(value))
        elif isinstance(value, str) and NUL in value:
            problems.setdefault(path or "json", []).append(NUL_MESSAGE)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name

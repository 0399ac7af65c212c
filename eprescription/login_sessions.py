"""The browser's login: the session cookie (account, session version, start and last use,
checked on every request) and the device cookie that spares its owner a username's wait."""

import secrets
from datetime import UTC, datetime, timedelta

from flask import Response, current_app, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from eprescription.domain import sessions as rules
from eprescription.models import Account, Role
from eprescription.services import accounts
from eprescription.services.uow import UnitOfWork

DEVICE_SALT = "eprescription.login-device"
DEVICE_MAX_AGE = timedelta(days=180)
DEVICES_KEPT = 8  # usernames remembered per browser (a shared pharmacy workstation)


def open_session(account: Account, now: datetime) -> None:
    """A fresh session for `account` (nothing set before, such as a planted cookie, survives),
    naming its current session version."""
    session.clear()
    stamp = int(now.timestamp())
    session.update(
        account_id=account.id, version=account.session_version, started=stamp, seen=stamp
    )


def session_account(uow: UnitOfWork) -> Account | None:
    """The account behind this request's session cookie, or None (and the cookie is emptied)
    if the account is gone or disabled, its sessions were ended since, or the session has been
    idle too long or has lasted twelve hours."""
    account_id = session.get("account_id")
    if account_id is None:
        return None
    account = accounts.active_account(uow, account_id)
    now = uow.now
    if account is None or not _current(account, now):
        session.clear()
        return None
    session["seen"] = int(now.timestamp())
    return account


def idle_timeout(role: Role) -> timedelta:
    """How long a session of `role` may go unused (professionals: 15 minutes by default)."""
    setting = "SESSION_IDLE_MINUTES_PATIENT" if role is Role.PATIENT else "SESSION_IDLE_MINUTES"
    return timedelta(minutes=current_app.config[setting])


def _current(account: Account, now: datetime) -> bool:
    started, seen = session.get("started"), session.get("seen")
    if session.get("version") != account.session_version:
        return False
    if not isinstance(started, int) or not isinstance(seen, int):
        return False
    return rules.is_current(
        datetime.fromtimestamp(started, UTC),
        datetime.fromtimestamp(seen, UTC),
        now,
        idle=idle_timeout(account.role),
        absolute=timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
    )


# -- the device cookie ---------------------------------------------------------------------------


def device_cookie_name() -> str:
    """`__Host-` prefixed where the session cookie is (outside development)."""
    return "__Host-device" if current_app.config["SESSION_COOKIE_SECURE"] else "device"


def known_device(username: str) -> str | None:
    """The id of this browser as a device `username`'s owner logged in from before (signed by
    the service, so it cannot be made up), or None."""
    return _devices().get(accounts.normalise_username(username))


def remember_device(response: Response, account: Account) -> Response:
    """After a successful login: this browser is a known device of `account` from now on."""
    devices = _devices()
    devices.pop(account.username, None)
    devices[account.username] = secrets.token_hex(16)
    kept = dict(list(devices.items())[-DEVICES_KEPT:])
    response.set_cookie(
        device_cookie_name(),
        _serializer().dumps(kept),
        max_age=int(DEVICE_MAX_AGE.total_seconds()),
        path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def _devices() -> dict[str, str]:
    value = request.cookies.get(device_cookie_name())
    if not value:
        return {}
    try:
        devices = _serializer().loads(value, max_age=int(DEVICE_MAX_AGE.total_seconds()))
    except BadSignature:  # SignatureExpired is one too
        return {}
    if not isinstance(devices, dict):
        return {}
    return {str(name): str(device) for name, device in devices.items()}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=DEVICE_SALT)

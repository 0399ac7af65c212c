"""Login and logout with a CSRF-protected form; the session cookie names the account and its
session version (eprescription/login_sessions.py), checked on every request."""

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from eprescription import login_sessions, throttling
from eprescription.domain.errors import AuthenticationFailed, PermissionDenied, TooManyAttempts
from eprescription.domain.messages import Message
from eprescription.errors import OK, status_for
from eprescription.models import Account, Role
from eprescription.services import accounts, sessions
from eprescription.use_cases import unit_of_work
from eprescription.view_checks import checked_first

bp = Blueprint("auth", __name__)

LANDING_PAGES = {
    Role.PRESCRIBER: "home.prescriber",
    Role.PHARMACIST: "home.pharmacy",
    Role.PATIENT: "patient.index",
    Role.ADMIN: "home.admin",
}


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=accounts.PASSWORD_MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


def current_account() -> Account | None:
    """The logged-in account of this request, or None (the session's identity map makes
    repeated calls cheap; `g` would outlive the request when an app context is shared)."""
    # Read before the request's unit of work opens, on the same session (so in the same
    # transaction): this one is never entered, it ends nothing.
    return login_sessions.session_account(unit_of_work())


def landing_url(account: Account) -> str:
    return url_for(LANDING_PAGES[account.role])


def login_required(*roles: Role) -> Callable:
    """Send visitors to the login page; refuse accounts without one of `roles` (any if none)."""

    def check() -> ResponseReturnValue | None:
        account = current_account()
        if account is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if roles and account.role not in roles:
            raise PermissionDenied(
                Message(
                    "role_required",
                    "This page is for the role {role}.",
                    role=" or ".join(roles),
                )
            )
        return None

    return checked_first(check)


def safe_next(target: str | None) -> str | None:
    """Only a path on this site, so that the login page cannot redirect elsewhere."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@throttling.guesses("password")
def login():
    form = LoginForm(next=request.args.get("next", ""))
    error = None
    status, headers = OK, {}
    if form.validate_on_submit():
        username = form.username.data
        try:
            with unit_of_work() as uow:
                account = accounts.authenticate(
                    uow,
                    username,
                    form.password.data,
                    device=login_sessions.known_device(username),
                )
        except AuthenticationFailed as failure:
            throttling.missed()
            error = failure.detail
            if isinstance(failure, TooManyAttempts):
                status, headers = status_for(failure), {"Retry-After": str(failure.retry_after)}
        else:
            login_sessions.open_session(account, uow.now)
            response = redirect(safe_next(form.next.data) or landing_url(account))
            return login_sessions.remember_device(response, account)
    elif form.is_submitted():
        error = gettext("Enter your username and your password.")
    return render_template("login.html", form=form, error=error), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    """End every session and API token of the account (on every device), not only this one."""
    account = current_account()
    if account is not None:
        with unit_of_work(account) as uow:
            sessions.end_all(uow, account)
    session.clear()
    flash(gettext("You have logged out."), "success")
    return redirect(url_for("auth.login"))

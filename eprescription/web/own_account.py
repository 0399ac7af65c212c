"""Pages every logged-in user has for their own account: their password, a prescriber's PIN."""

from flask import Blueprint, flash, redirect, session, url_for
from flask_babel import gettext

from eprescription.errors import SEE_OTHER
from eprescription.models import Role
from eprescription.schemas.account_forms import PasswordChangeSchema, PinChangeSchema
from eprescription.services import own_password, own_pin
from eprescription.web import form_pages
from eprescription.web.auth import login_required

bp = Blueprint("own_account", __name__, url_prefix="/account")


@bp.route("/password", methods=["GET", "POST"])
@login_required()
def password():
    """GET: the current and the new password. POST: changed, every session ends (this one
    too): the login page follows."""
    _, refused = form_pages.submitted(
        "account/secret.html",
        PasswordChangeSchema(),
        lambda uow, form: own_password.change(uow, form["current"], form["new"]),
        first="current",
        renamed={"password": "new"},
        kind="password",
    )
    if refused:
        return refused
    session.clear()
    flash(gettext("Your password is changed: log in with the new one."), "success")
    return redirect(url_for("auth.login"), SEE_OTHER)


@bp.route("/pin", methods=["GET", "POST"])
@login_required(Role.PRESCRIBER)
def pin():
    """GET: the current signing PIN and the new one twice. POST: the key is wrapped under the
    new PIN (a wrong current PIN counts toward the block, as when signing)."""
    _, refused = form_pages.submitted(
        "account/secret.html",
        PinChangeSchema(),
        lambda uow, form: own_pin.change(uow, form["pin"], form["new_pin"]),
        first="pin",
        kind="pin",
    )
    if refused:
        return refused
    flash(gettext("Your signing PIN is changed: sign with the new one."), "success")
    return redirect(url_for("home.prescriber"), SEE_OTHER)

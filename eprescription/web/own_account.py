"""Pages every logged-in user has for their own account: changing their password."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext

from eprescription.domain.errors import DomainError, ValidationFailed
from eprescription.errors import SEE_OTHER, status_for
from eprescription.schemas.account_forms import PasswordChangeSchema
from eprescription.services import own_password
from eprescription.use_cases import unit_of_work
from eprescription.web import forms
from eprescription.web.auth import current_account, login_required
from eprescription.web.messages import message

bp = Blueprint("own_account", __name__, url_prefix="/account")


@bp.route("/password", methods=["GET", "POST"])
@login_required()
def password():
    """GET: the current and the new password. POST: changed, every session ends (this one
    too): the login page follows."""
    errors: dict = {}
    status = None
    if request.method == "POST":
        try:
            form = forms.read(PasswordChangeSchema())
            current, new = form["current"], form["new"]
            if new != form["repeat"]:
                raise ValidationFailed(errors={"repeat": [gettext("the two new passwords differ")]})
            with unit_of_work(current_account()) as uow:
                own_password.change(uow, current, new)
        except DomainError as error:
            status = status_for(error)
            errors = {
                "new" if name == "password" else name: [message(text) for text in texts]
                for name, texts in (error.errors or {}).items()
            } or {"current": [message(error.detail)]}
        else:
            session.clear()
            flash(gettext("Your password is changed: log in with the new one."), "success")
            return redirect(url_for("auth.login"), SEE_OTHER)
    return render_template("account/password.html", errors=errors), status

"""The administrator's pages: find accounts, act on them (the CLI's rules), see who did what."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from eprescription.domain.errors import DomainError
from eprescription.errors import SEE_OTHER, status_for
from eprescription.models import Role
from eprescription.schemas.account_forms import AccountActSchema
from eprescription.services import administration
from eprescription.use_cases import unit_of_work
from eprescription.web import forms
from eprescription.web.auth import current_account, login_required
from eprescription.web.messages import message

bp = Blueprint("admin", __name__, url_prefix="/admin")

NO_STORE = {"Cache-Control": "no-store"}
INPUT_MAX = 256
ACTION_TEXTS = {
    "disable": _l("Disable"),
    "enable": _l("Enable"),
    "unlock": _l("Unlock the login"),
    "reset_password": _l("Set a new password"),
    "unblock_key": _l("Unblock the signing key"),
    "revoke_key": _l("Revoke the signing key"),
}
DONE_TEXTS = {
    "disable": _l("disabled"),
    "enable": _l("enabled"),
    "unlock": _l("login unlocked"),
    "reset_password": _l("new password set"),
    "unblock_key": _l("signing key unblocked"),
    "revoke_key": _l("signing key revoked"),
}
KEY_TEXTS = {"usable": _l("usable"), "blocked": _l("blocked"), "revoked": _l("revoked")}


def _page(query: str, *, refusal=None, status=None):
    with unit_of_work(current_account()) as uow:
        found = administration.find(uow, query)
        acts = administration.history(uow)
    return (
        render_template(
            "admin/accounts.html",
            query=query,
            found=found,
            acts=acts,
            refusal=refusal,
            action_texts=ACTION_TEXTS,
            done_texts=DONE_TEXTS,
            key_texts=KEY_TEXTS,
        ),
        status,
        NO_STORE,
    )


@bp.route("/accounts")
@login_required(Role.ADMIN)
def accounts():
    """Find accounts by username or name; each with what may be done to it; the latest acts."""
    return _page(request.args.get("q", "")[:INPUT_MAX])


@bp.route(
    "/accounts/<username>/<any(" + ", ".join(administration.ACTIONS) + "):action>", methods=["POST"]
)
@login_required(Role.ADMIN)
def act(username: str, action: str):
    """One act on one account, audited; a refusal is explained on the list."""
    query = request.form.get("q", "")[:INPUT_MAX]
    try:
        form = forms.read(AccountActSchema())
        query = form["q"]
        with unit_of_work(current_account()) as uow:
            administration.act(
                uow, username, action, password=form["password"], reason=form["reason"]
            )
    except DomainError as error:
        return _page(query, refusal=_refused(error), status=status_for(error))
    flash(gettext("%(username)s: %(done)s.", username=username, done=DONE_TEXTS[action]), "success")
    return redirect(url_for("admin.accounts", q=query), SEE_OTHER)


def _refused(error: DomainError) -> str:
    fields = [message(text) for texts in (error.errors or {}).values() for text in texts]
    return "; ".join([message(error.detail), *fields])

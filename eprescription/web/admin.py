"""The administrator's pages: find accounts, act on them, create accounts and pharmacies (the
CLI's rules), see who did what."""

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from eprescription.domain import prescribing_rules
from eprescription.domain.errors import DomainError
from eprescription.errors import SEE_OTHER, status_for
from eprescription.models import Role
from eprescription.schemas.account_forms import (
    AccountActSchema,
    NewAccountSchema,
    NewPharmacySchema,
)
from eprescription.services import administration, registration
from eprescription.use_cases import unit_of_work
from eprescription.web import form_pages, forms
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
    "create_account": _l("Create the account"),
    "create_pharmacy": _l("Create the pharmacy"),
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
SETTING_TEXTS = {
    prescribing_rules.COMMUNITY: _l("in town (community)"),
    prescribing_rules.HOSPITAL: _l("in hospital"),
}
# What the templates word: the acts, the key states, the roles and the prescribers' settings.
TEXTS: dict[str, Any] = {
    "action_texts": ACTION_TEXTS,
    "key_texts": KEY_TEXTS,
    "roles": [role.value for role in Role],
    "setting_texts": SETTING_TEXTS,
}


def _page(query: str, *, refusal=None, status=None):
    with unit_of_work(current_account()) as uow:
        found = administration.find(uow, query)
        acts = administration.history(uow)
    page = render_template(
        "admin/accounts.html", query=query, found=found, acts=acts, refusal=refusal, **TEXTS
    )
    return page, status, NO_STORE


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


@bp.route("/accounts/new", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def new_account():
    """GET: the form of a new account of any role (`flask users create`'s fields). POST:
    created and audited, then found on the list; refused: the form again, nothing written."""
    username = _created("admin/new_account.html", NewAccountSchema(), _create_account)
    if not isinstance(username, str):
        return username
    flash(gettext("The account %(username)s is created.", username=username), "success")
    return redirect(url_for("admin.accounts", q=username), SEE_OTHER)


@bp.route("/pharmacies/new", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def new_pharmacy():
    """GET: the form of a new pharmacy (`flask users create-pharmacy`'s fields). POST: created
    and audited; its pharmacists' accounts can be created next."""
    finess = _created("admin/new_pharmacy.html", NewPharmacySchema(), _create_pharmacy)
    if not isinstance(finess, str):
        return finess
    flash(gettext("The pharmacy with FINESS %(finess)s is created.", finess=finess), "success")
    return redirect(
        url_for("admin.new_account", role=Role.PHARMACIST.value, pharmacy_finess=finess)
    )


def _created(template: str, schema, create):
    """What `create` returned (a username, a FINESS), or the page: the form, or refused."""
    created, page = form_pages.submitted(
        template, schema, create, first="form", form=request.form or request.args, **TEXTS
    )
    return created if page is None else (*page, NO_STORE)


def _create_account(uow, form: dict) -> str:
    return registration.create_account(uow, registration.NewAccount.of(**form)).username


def _create_pharmacy(uow, form: dict) -> str:
    return registration.create_pharmacy(uow, **form).finess

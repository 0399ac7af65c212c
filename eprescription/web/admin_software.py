"""The administrator's software page: the registered programs, register one (its secret shown
this once), revoke one or give it a new secret, each after a confirmation (the services'
rules and audit, as `flask software …`)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from eprescription.domain.errors import DomainError
from eprescription.errors import SEE_OTHER, status_for
from eprescription.models import Role
from eprescription.schemas.software_forms import NewSoftwareSchema
from eprescription.services import practices, software_clients
from eprescription.use_cases import unit_of_work
from eprescription.web import form_pages
from eprescription.web.auth import current_account, login_required
from eprescription.web.messages import error_title, message

bp = Blueprint("admin_software", __name__, url_prefix="/admin/software")

NO_STORE = {"Cache-Control": "no-store"}
SCOPE_TEXTS = {
    software_clients.ISSUE: _l("prescribe"),
    software_clients.READ: _l("read"),
    software_clients.DISPENSE: _l("dispense"),
    software_clients.EVENTS: _l("events"),
}
ACTION_TEXTS = {
    "register": _l("Register the software"),
    "revoke": _l("Revoke"),
    "rotate": _l("New secret"),
}
FIRST = "name"  # the field a refusal of no field is said on


def _row(client) -> dict:
    """What the pages show of a client."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "vendor": client.vendor,
        "version": client.version,
        "organisation": _organisation(client),
        "scopes": client.scopes.split(),
        "uses_key": client.public_key_pem is not None,
        "revoked_at": client.revoked_at,
    }


def _organisation(client) -> str:
    """Its pharmacy (with its FINESS) or its practice, by name."""
    if client.pharmacy is not None:
        return f"{client.pharmacy.name} (FINESS {client.pharmacy.finess})"
    return client.practice.name if client.practice is not None else ""


def _list(*, refusal=None, status=None):
    with unit_of_work(current_account()) as uow:
        rows = [_row(client) for client in software_clients.all_clients(uow)]
    page = render_template(
        "admin/software.html",
        rows=rows,
        refusal=refusal,
        scope_texts=SCOPE_TEXTS,
        action_texts=ACTION_TEXTS,
    )
    return page, status, NO_STORE


@bp.route("")
@login_required(Role.ADMIN)
def index():
    """Every registered program: its organisation, scopes, state and what may be done to it."""
    return _list()


@bp.route("/new", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def new():
    """GET: the form. POST: registered and audited, its client_id and secret shown this once;
    refused: the form again with each field's message, nothing written."""
    with unit_of_work(current_account()) as uow:
        choices = [(practice.id, practice.name) for practice in practices.all_practices(uow)]
    created, page = form_pages.submitted(
        "admin/new_software.html",
        NewSoftwareSchema(),
        _register,
        first=FIRST,
        form=request.form,
        practices=choices,
        scope_texts=SCOPE_TEXTS,
        action_texts=ACTION_TEXTS,
    )
    if page is not None:
        return (*page, NO_STORE)
    heading = gettext("The software %(name)s is registered", name=created["name"])
    return render_template("admin/software_secret.html", heading=heading, **created), NO_STORE


def _register(uow, form: dict) -> dict:
    return _shown(software_clients.register(uow, **form))


def _shown(registered) -> dict:
    """A client just registered or given a new secret, with that secret (None: a key)."""
    return _row(registered.client) | {"secret": registered.secret}


@bp.route("/<client_id>/<any(revoke, rotate):action>", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def act(client_id: str, action: str):
    """GET: what the act does, to confirm. POST: done and audited: revoked (back to the list),
    or the new secret shown this once; refused: the list says why."""
    if request.method == "GET":
        with unit_of_work(current_account()) as uow:
            row = _row(software_clients.client_named(uow, client_id))
        page = render_template(
            "admin/software_confirm.html", row=row, action=action, action_texts=ACTION_TEXTS
        )
        return page, NO_STORE
    try:
        with unit_of_work(current_account()) as uow:
            if action == "revoke":
                row = _row(software_clients.revoke(uow, client_id))
            else:
                shown = _shown(software_clients.rotate_secret(uow, client_id))
    except DomainError as error:
        refusal = message(error.detail) or error_title(error.code)
        return _list(refusal=refusal, status=status_for(error))
    if action == "revoke":
        flash(
            gettext(
                "%(name)s (%(client_id)s) is revoked: it gets no token, and its tokens are ended.",
                name=row["name"],
                client_id=row["client_id"],
            ),
            "success",
        )
        return redirect(url_for("admin_software.index"), SEE_OTHER)
    heading = gettext("A new secret for %(name)s", name=shown["name"])
    return render_template("admin/software_secret.html", heading=heading, **shown), NO_STORE

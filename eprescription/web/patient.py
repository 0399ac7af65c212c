"""The patient's health space pages: prescriptions with their QR code, history, who looked at
my data, representatives and the pickup mode."""

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from eprescription import qr
from eprescription.domain.errors import Conflict, DomainError, ValidationFailed
from eprescription.domain.health_space import PAGE_SIZE_MAX, View
from eprescription.domain.prescriptions import PickupMode
from eprescription.errors import OK, status_for
from eprescription.models import Role
from eprescription.services import (
    accounts,
    patient_access_log,
    patient_prescriptions,
    patient_representatives,
    renewal_requests,
)
from eprescription.services.patient_cards import Card, UnverifiedCard
from eprescription.use_cases import unit_of_work
from eprescription.web.auth import current_account, login_required
from eprescription.web.patient_filters import PICKUP_LABELS

bp = Blueprint("patient", __name__, url_prefix="/me")

STATUS_LABELS = {
    "active": _l("Active"),
    "partially_dispensed": _l("Partly collected"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
}
KIND_LABELS = {
    "authorised": _l("named by you"),
    "parent": _l("parent (recorded by an administrator)"),
}
REPRESENTED_LABELS = {"authorised": _l("named you"), "parent": _l("you are their parent")}


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def _inline_svg(text: str) -> Markup:
    svg = qr.render_svg(text).decode()
    return Markup(svg[svg.index("<svg") :])  # our own SVG: no user text in it


def _groups(cards: list[Card | UnverifiedCard]) -> list[tuple[str | None, list]]:
    """Own prescriptions first, then each represented person's, so they are clearly apart."""
    groups: dict[str | None, list] = {None: []}
    for card in cards:
        # One that cannot be verified names nobody: it is listed with the patient's own.
        theirs = isinstance(card, Card) and card.relation != "patient"
        key = card.patient["name"] if isinstance(card, Card) and theirs else None
        groups.setdefault(key, []).append(card)
    return list(groups.items())


def _list_page(view: View, template: str, title: str):
    with unit_of_work(current_account()) as uow:
        page = renewal_requests.list_with_requests(uow, view=view, page=1, page_size=PAGE_SIZE_MAX)
        profile = accounts.profile(uow)
    return render_template(
        template,
        title=title,
        profile=profile,
        groups=_groups(page.items),
        total=page.total,
        shown=len(page.items),
        current=request.endpoint,
    )


@bp.route("")
@login_required(Role.PATIENT)
def index():
    """The health space: prescriptions that can still be collected, newest first."""
    return _list_page(View.ACTIVE, "patient/index.html", gettext("My health space"))


@bp.route("/history")
@login_required(Role.PATIENT)
def history():
    """Expired, completed and cancelled prescriptions."""
    return _list_page(View.HISTORY, "patient/history.html", gettext("History"))


@bp.route("/prescriptions/<number>")
@login_required(Role.PATIENT)
def show(number: str):
    """One prescription: its QR code and number first (to show at the pharmacy), printable."""
    with unit_of_work(current_account()) as uow:
        view = renewal_requests.get_with_request(uow, number)
    qr_svg = _inline_svg(view.qr_text) if view.qr_text else None
    return render_template(
        "patient/show.html",
        p=view,
        qr_svg=qr_svg,
        pickup_modes=[(str(mode), PICKUP_LABELS[mode]) for mode in PickupMode],
        current="patient.index" if view.view == View.ACTIVE else "patient.history",
    )


@bp.route("/prescriptions/<number>/pickup-mode", methods=["POST"])
@login_required(Role.PATIENT)
def pickup_mode(number: str):
    with unit_of_work(current_account()) as uow:
        view = patient_prescriptions.change_pickup_mode(
            uow, number, request.form.get("pickup_mode")
        )
    who = PICKUP_LABELS[view.pickup_mode]
    flash(gettext("From now on it can be collected by %(who)s.", who=who), "success")
    return redirect(url_for("patient.show", number=view.id))


RENEWAL_REFUSALS = {
    "renewal_request_pending": _l("You asked already: your doctor has not answered yet."),
    "prescription_already_renewed": _l("Your doctor renewed this prescription already."),
    "validation_failed": _l("Your message is too long: at most 500 characters."),
}


@bp.route("/prescriptions/<number>/renewal-request", methods=["POST"])
@login_required(Role.PATIENT)
def ask_renewal(number: str):
    """Ask the prescriber to renew this long-term treatment, with an optional message."""
    try:
        with unit_of_work(current_account()) as uow:
            renewal_requests.request_renewal(uow, number, message=request.form.get("message"))
    except (ValidationFailed, Conflict) as error:
        refusal = RENEWAL_REFUSALS.get(
            error.code, _l("This prescription cannot be renewed on request now.")
        )
        flash(str(refusal), "error")
    else:
        flash(gettext("Your request has been sent to your doctor."), "success")
    return redirect(url_for("patient.show", number=number))


@bp.route("/access-log")
@login_required(Role.PATIENT)
def access_log():
    """Who looked at or changed my prescriptions, newest first."""
    page_number = request.args.get("page", 1, type=int) or 1
    with unit_of_work(current_account()) as uow:
        page = patient_access_log.read(uow, page=max(page_number, 1), page_size=20)
    last_page = max((page.total + page.page_size - 1) // page.page_size, 1)
    return render_template(
        "patient/access_log.html",
        page=page,
        last_page=last_page,
        current="patient.access_log",
    )


@bp.route("/representatives", methods=["GET", "POST"])
@login_required(Role.PATIENT)
def representatives():
    """GET: whom I named and whom I represent. POST: name somebody."""
    account = current_account()
    form, errors, status = {}, {}, OK
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in ("nir", "family_name", "until")}
        try:
            until = date.fromisoformat(form["until"]) if form["until"] else None
        except ValueError:
            errors = {"valid_until": [gettext("a date such as 2026-12-31")]}
            status = status_for(ValidationFailed)
        else:
            try:
                with unit_of_work(account) as uow:
                    named = patient_representatives.add_representative(
                        uow, nir=form["nir"], family_name=form["family_name"], valid_until=until
                    )
            except ValidationFailed as error:
                errors, status = error.errors, status_for(error)
            except DomainError as error:  # a duplicate
                errors, status = error.errors or {"nir": [error.detail]}, status_for(error)
            else:
                flash(
                    gettext(
                        "%(name)s can now see and collect your prescriptions.", name=named.name
                    ),
                    "success",
                )
                return redirect(url_for("patient.representatives"))
    # A refused name was rolled back with its unit of work; the page is read afresh.
    with unit_of_work(account) as uow:
        listing = patient_representatives.overview(uow)
    return (
        render_template(
            "patient/representatives.html",
            listing=listing,
            form=form,
            errors=errors,
            kinds=KIND_LABELS,
            represented_kinds=REPRESENTED_LABELS,
            current="patient.representatives",
        ),
        status,
    )


@bp.route("/representatives/<row_id:representative_id>/revoke", methods=["POST"])
@login_required(Role.PATIENT)
def revoke(representative_id: int):
    with unit_of_work(current_account()) as uow:
        ended = patient_representatives.revoke_representative(uow, representative_id)
    flash(
        gettext("%(name)s can no longer see or collect your prescriptions.", name=ended.name),
        "success",
    )
    return redirect(url_for("patient.representatives"))

"""The prescriber's pages: compose, review and sign a prescription; list, show, renew, cancel;
answer the patients' renewal requests."""

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from eprescription import qr, throttling
from eprescription.domain import signed_prescription
from eprescription.domain.acknowledgements import Acknowledgement
from eprescription.domain.errors import (
    DomainError,
    NotFound,
    RenewalRequestClosed,
    ValidationFailed,
    WarningsNotAcknowledged,
    WrongPin,
)
from eprescription.domain.prescriptions import (
    OPEN_STATES,
    RENEWALS_MAX,
    ItemDraft,
    NonSubstitutionReason,
    PickupMode,
    Status,
    today_of,
)
from eprescription.errors import OK, status_for
from eprescription.models import Role
from eprescription.services import (
    accounts,
    allergies,
    cancelling,
    issue_review,
    issuing,
    prescriber_patients,
    prescribers,
    prescription_drafts,
    prescription_qr,
    prescription_reading,
    prescription_views,
    renewal_requests,
)
from eprescription.use_cases import unit_of_work
from eprescription.web.auth import current_account, login_required

bp = Blueprint("prescriber", __name__, url_prefix="/prescriber")

ITEM_FIELD = re.compile(r"items-(\d{1,2})-([a-z_]+)")
# A line's fields: those it is signed with, but for the product's name (the label typed) and
# substitutable (its opposite: a box to tick); then the form's own.
SIGNED_AS = {"medication_name": "medication_label", "substitutable": "not_substitutable"}
ITEM_FIELDS = (
    *(SIGNED_AS.get(name, name) for name in signed_prescription.ITEM_FIELDS),
    # What some products' conditions ask the prescriber to write (docs/rules.md); the form
    # shows them only when the chosen product's condition kinds (kept with the line) need them.
    "renewal_authorised",
    "initial_prescription",
    "fractionation_days",
    "overlap_allowed",
    "condition_kinds",
)
TOP_FIELDS = (
    "patient_nir",
    "renewals",
    "valid_from",
    "valid_until",
    "pickup_mode",
    "renewal_request",  # the id of the patient's request this prescription answers
    "renewing",  # the number of the prescription renewed (its lines are no duplicates)
)
JUST_ISSUED = "just_issued"  # the access code, shown once on the page after the redirect
# Templates fill the dosage text and its structure; the doctor edits what does not fit.
DOSAGE_TEMPLATES = (
    ("1 comprimé 3 fois par jour pendant 5 jours", "1", "comprimé", 3, 5),
    ("1 comprimé jusqu'à 3 fois par jour si douleur, pendant 3 jours", "1", "comprimé", 3, 3),
    ("1 comprimé matin et soir pendant 7 jours", "1", "comprimé", 2, 7),
    ("1 comprimé le matin pendant 30 jours", "1", "comprimé", 1, 30),
    ("1 gélule 3 fois par jour pendant 6 jours", "1", "gélule", 3, 6),
    ("1 sachet 3 fois par jour pendant 5 jours", "1", "sachet", 3, 5),
)
REASON_TEXTS = {
    NonSubstitutionReason.MTE: _l("narrow therapeutic margin"),
    NonSubstitutionReason.EFG: _l("child under 6, no suitable generic form"),
    NonSubstitutionReason.CIF: _l("formal contraindication to an excipient"),
}
PICKUP_TEXTS = {
    PickupMode.PUBLIC: _l("Anyone presenting the code (public)"),
    PickupMode.PRIVATE: _l("The patient in person only (private)"),
    PickupMode.AUTHORISED: _l("The patient or a representative they authorised"),
}
BLANK_ITEM = dict.fromkeys(ITEM_FIELDS, "") | {"quantity": "1"}
STATUS_LABELS = {
    Status.ACTIVE: _l("Active"),
    Status.PARTIALLY_DISPENSED: _l("Partially dispensed"),
    Status.COMPLETED: _l("Completed"),
    Status.CANCELLED: _l("Cancelled"),
    Status.EXPIRED: _l("Expired"),
}


@bp.app_template_filter("prescriber_pickup")
def prescriber_pickup(mode: str) -> str:
    """Who may collect a prescription, in the prescriber's words."""
    return next((str(text) for key, text in PICKUP_TEXTS.items() if key == mode), mode)


# -- reading the form -------------------------------------------------------------------------


def _draft(form) -> dict:
    """The prescription as typed (strings), lines renumbered from 0 and empty lines dropped."""
    draft = {name: form.get(name, "").strip() for name in TOP_FIELDS}
    lines: dict[int, dict] = {}
    for key, value in form.items():
        match = ITEM_FIELD.fullmatch(key)
        if match and match.group(2) in ITEM_FIELDS:
            lines.setdefault(int(match.group(1)), {})[match.group(2)] = value.strip()
    draft["items"] = [
        {name: lines[index].get(name, "") for name in ITEM_FIELDS}
        for index in sorted(lines)
        if any(lines[index].get(name) for name in ("cis", "medication_label", "substance_code"))
    ]
    return draft


def _number(problems: dict, path: tuple, text: str, kind=int):
    """`text` as an int (or a decimal string), None when empty; a problem when not a number."""
    if not text:
        return None
    text = text.replace(",", ".")
    try:
        return kind(text) if kind is int else str(Decimal(text))
    except (ValueError, ArithmeticError):
        _add(problems, path, gettext("a whole number") if kind is int else gettext("a number"))
        return None


def _day(problems: dict, name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _add(problems, (name,), gettext("a date (YYYY-MM-DD)"))
        return None


def _add(problems: dict, path: tuple, message: str) -> None:
    node = problems
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).append(message)


def _issue_request(draft: dict, pin: str = "") -> tuple[prescription_drafts.IssueRequest, dict]:
    """The service's request from the draft, and the fields that are not even numbers/dates."""
    problems: dict = {}
    items = []
    for index, line in enumerate(draft["items"]):
        path = ("items", index)
        not_substitutable = bool(line["not_substitutable"])
        items.append(
            ItemDraft(
                cis=line["cis"] or None,
                substance_code=line["substance_code"] or None,
                strength=line["strength"] or None,
                form=line["form"] or None,
                dosage_text=line["dosage_text"],
                dose=_number(problems, (*path, "dose"), line["dose"], kind=Decimal),
                dose_unit=line["dose_unit"] or None,
                frequency_per_day=_number(
                    problems, (*path, "frequency_per_day"), line["frequency_per_day"]
                ),
                duration_days=_number(problems, (*path, "duration_days"), line["duration_days"]),
                quantity=_number(problems, (*path, "quantity"), line["quantity"]),
                substitutable=not not_substitutable,
                non_substitution_reason=(line["non_substitution_reason"] or None)
                if not_substitutable
                else None,
                ald=bool(line["ald"]),
                renewal_authorised=bool(line["renewal_authorised"]),
                initial_prescription=line["initial_prescription"] or None,
                fractionation_days=_number(
                    problems, (*path, "fractionation_days"), line["fractionation_days"]
                ),
                overlap_allowed=bool(line["overlap_allowed"]),
            )
        )
    renewals = _number(problems, ("renewals",), draft["renewals"])
    renewal_request = _number(problems, ("renewal_request",), draft["renewal_request"])
    issue_request = prescription_drafts.IssueRequest(
        patient_nir=draft["patient_nir"],
        pin=pin,
        items=items,
        valid_from=_day(problems, "valid_from", draft["valid_from"]),
        valid_until=_day(problems, "valid_until", draft["valid_until"]),
        renewals=0 if renewals is None else renewals,
        pickup_mode=draft["pickup_mode"] or None,
        renewal_request_id=renewal_request,
        renewing=draft["renewing"] or None,
    )
    return issue_request, problems


def _merge(errors: dict, parsed: dict) -> dict:
    """The service's errors, with "not a number" in place of what it said about those fields."""
    merged = {key: value for key, value in errors.items()}
    for key, value in parsed.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _draft_from(content: prescription_views.PrescriptionView) -> dict:
    """A draft prefilled from a prescription's signed content, its cancelled lines left out
    (renewal)."""
    items = []
    for item in content.items:
        if item.status == "cancelled":
            continue
        drug, dosage = item.medication, item.dosage
        items.append(
            {
                "cis": drug.get("cis", ""),
                "medication_label": drug["name"],
                "substance_code": drug.get("substance_code", ""),
                "strength": drug.get("strength", ""),
                "form": drug.get("form", ""),
                "dosage_text": dosage["text"],
                "dose": dosage.get("dose", ""),
                "dose_unit": dosage.get("dose_unit", ""),
                "frequency_per_day": str(dosage.get("frequency_per_day", "")),
                "duration_days": str(dosage.get("duration_days", "")),
                "quantity": str(item.quantity),
                "not_substitutable": "" if item.substitutable else "1",
                "non_substitution_reason": item.non_substitution_reason or "",
                "ald": "1" if item.ald else "",
                "renewal_authorised": "1" if item.renewal_authorised else "",
                "initial_prescription": item.initial_prescription or "",
                "fractionation_days": str(item.fractionation_days or ""),
                # Not carried: an overlap is allowed expressly on each prescription (R5132-33).
                "overlap_allowed": "",
                "condition_kinds": " ".join(c["kind"] for c in item.conditions),
            }
        )
    return {
        "patient_nir": content.patient["identifier"]["value"],
        "renewals": str(content.renewals),
        "valid_from": "",
        "valid_until": "",
        "pickup_mode": content.pickup_mode,
        "renewal_request": "",
        "renewing": content.number,
        "items": items,
    }


# -- composing, reviewing, signing ------------------------------------------------------------


def _recent_patients() -> list:
    """The form's recent patients, when the page has no unit of work of its own to read them
    in (the form shown at first, or again after a use case that failed and rolled back)."""
    with unit_of_work(current_account()) as uow:
        return prescriber_patients.recent_patients(uow)


def _form_page(
    draft: dict | None = None,
    errors: dict | None = None,
    *,
    recent: list | None = None,
    renewing=None,
    asked=None,
    signing_refusal=None,
    status=OK,
):
    return render_template(
        "prescriber/new.html",
        draft=draft or {name: "" for name in TOP_FIELDS} | {"items": []},
        errors=errors or {},
        recent=_recent_patients() if recent is None else recent,
        renewing=renewing,
        asked=asked,
        signing_refusal=signing_refusal,
        templates=DOSAGE_TEMPLATES,
        reasons=list(REASON_TEXTS.items()),
        pickup_modes=list(PICKUP_TEXTS.items()),
        blank_item=BLANK_ITEM,
        renewals_max=RENEWALS_MAX,
    ), status


@bp.route("/prescriptions/new", methods=["GET", "POST"])
@throttling.guesses("nir", by_status=False)
@login_required(Role.PRESCRIBER)
def new():
    """GET: the empty form. POST: check everything and show the review, or the form again."""
    if request.method == "GET":
        with unit_of_work(current_account()) as uow:
            recent = prescriber_patients.recent_patients(uow)
            refusal = prescribers.signing_refusal(uow)
        return _form_page(recent=recent, signing_refusal=refusal)
    draft = _draft(request.form)
    issue_request, parsed = _issue_request(draft)
    try:
        with unit_of_work(current_account()) as uow:
            review = issue_review.review(uow, issue_request)
            recent = prescriber_patients.recent_patients(uow) if parsed else None
    except ValidationFailed as error:
        if "patient_nir" in error.errors:  # a NIR nobody has: the review names whoever has one
            throttling.missed()
        return _form_page(draft, _merge(error.errors, parsed))
    if parsed:
        return _form_page(draft, parsed, recent=recent)
    return _review_page(draft, review)


def _review_page(
    draft: dict,
    review,
    *,
    pin_error: str = "",
    blocked: str = "",
    acknowledgement: Acknowledgement | None = None,
    unacknowledged: bool = False,
    asked=None,
    allergy_error: str = "",
    allergy_typed: str = "",
):
    return render_template(
        "prescriber/review.html",
        draft=draft,
        review=review,
        content=review.content,
        pin_error=pin_error,
        blocked=blocked,
        acknowledgement=acknowledgement or Acknowledgement(),
        unacknowledged=unacknowledged,
        asked=asked,
        allergy_error=allergy_error,
        allergy_typed=allergy_typed,
    )


@bp.route("/prescriptions/sign", methods=["POST"])
@throttling.guesses("pin", by_status=False)
@login_required(Role.PRESCRIBER)
def sign():
    """Sign what the review showed; back to the review on a wrong PIN, to the form if the
    content is no longer valid; the new prescription's page otherwise."""
    draft = _draft(request.form)
    if request.form.get("action") == "edit":
        return _form_page(draft)
    issue_request, parsed = _issue_request(draft, request.form.get("pin", ""))
    acknowledgement = Acknowledgement(
        frozenset(request.form.getlist("acknowledged")),
        request.form.get("acknowledgement_reason", "").strip(),
    )
    issue_request = replace(issue_request, acknowledgement=acknowledgement)
    if parsed:
        return _form_page(draft, parsed)
    try:
        with unit_of_work(current_account()) as uow:
            issued = issuing.issue(uow, issue_request)
    except WrongPin as error:
        throttling.missed()
        return _again(
            draft,
            issue_request,
            pin_error=(error.errors.get("pin") or [error.detail])[0],
            acknowledgement=acknowledgement,
        )
    except WarningsNotAcknowledged:  # nothing signed, no PIN tried: tick them, or a reason
        return _again(draft, issue_request, acknowledgement=acknowledgement, unacknowledged=True)
    except (RenewalRequestClosed, NotFound) as error:  # the request was answered meanwhile
        return _form_page(draft | {"renewal_request": ""}, {"renewal_request": [error.detail]})
    except ValidationFailed as error:
        return _form_page(draft, error.errors)
    except DomainError as error:  # blocked key, revoked or expired certificate, no key
        return _again(draft, issue_request, blocked=error.detail)
    number = issued.prescription.number
    session[JUST_ISSUED] = {"number": number, "access_code": issued.access_code}
    if issue_request.renewal_request_id is not None:
        flash(
            gettext("Renewed: the patient sees the new prescription in their health space."),
            "success",
        )
    return redirect(url_for("prescriber.show", number=number))


def _review_or_form(draft: dict, issue_request, form: dict, **message):
    """The review of `issue_request` (showing `message`), or the form again with its errors
    (and `form`'s values) when its lines no longer pass as they are."""
    try:
        with unit_of_work(current_account()) as uow:
            review = issue_review.review(uow, issue_request)
    except ValidationFailed as error:
        return _form_page(draft, error.errors, **form)
    return _review_page(draft, review, **message)


def _again(draft, issue_request, **message):
    """The review again, after a signature that was refused (and rolled back)."""
    with unit_of_work(current_account()) as uow:
        review = issue_review.review(uow, issue_request)
    return _review_page(draft, review, **message)


@bp.route("/patients/lookup", methods=["POST"])
@throttling.guesses("nir", by_status=False)
@login_required(Role.PRESCRIBER)
def lookup_patient():
    """JSON for the form's script: who has this NIR, if the prescriber prescribed for them
    before or confirms the patient is with them (`confirmed`: throttled, each one counts);
    errors are problem+json, as the API's."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    nir, confirmed = body.get("nir"), body.get("confirmed") is True
    if confirmed:
        throttling.missed()
    with unit_of_work(current_account()) as uow:
        patient = prescriber_patients.find_patient(
            uow, nir if isinstance(nir, str) else None, confirmed=confirmed
        )
    return jsonify(
        name=patient.full_name,
        birth_date=patient.birth_date.isoformat() if patient.birth_date else None,
    )


@bp.route("/allergies", methods=["POST"])
@login_required(Role.PRESCRIBER)
def record_allergy():
    """Record an allergy of the patient from the review (a substance's name or code), then the
    review again with its warnings worked out anew."""
    draft = _draft(request.form)
    typed = request.form.get("allergy_substance", "")
    allergy_error = ""
    try:
        with unit_of_work(current_account()) as uow:
            code = allergies.substance_code_of(uow, typed)
            allergies.record_allergy(uow, draft["patient_nir"], code or typed)
    except DomainError as error:
        allergy_error = next(iter(error.errors.values()), [error.detail])[0]
    issue_request, parsed = _issue_request(draft)
    if parsed:
        return _form_page(draft, parsed)
    return _review_or_form(
        draft, issue_request, {}, allergy_error=allergy_error, allergy_typed=typed
    )


@bp.route("/patients/search", methods=["POST"])
@login_required(Role.PRESCRIBER)
def search_patients():
    """JSON for the form's patient field: this prescriber's patients whose name or NIR starts
    as typed (POSTed, so that no name or NIR appears in a URL)."""
    body = request.get_json(silent=True)
    text = body.get("q") if isinstance(body, dict) else None
    with unit_of_work(current_account()) as uow:
        found = prescriber_patients.search_mine(uow, text if isinstance(text, str) else None)
    return jsonify(
        patients=[
            {
                "nir": person.national_id,
                "name": person.full_name,
                "birth_date": person.birth_date.isoformat() if person.birth_date else None,
            }
            for person in found
        ]
    )


@bp.route("/prescriptions/start", methods=["POST"])
@login_required(Role.PRESCRIBER)
def start():
    """The form for one of the home page's recent patients (the NIR posted, never in a URL)."""
    with unit_of_work(current_account()) as uow:
        recent = prescriber_patients.recent_patients(uow)
        refusal = prescribers.signing_refusal(uow)
    draft = {name: "" for name in TOP_FIELDS} | {"items": []}
    draft["patient_nir"] = request.form.get("patient_nir", "").strip()
    return _form_page(draft, recent=recent, signing_refusal=refusal)


def home():
    """The prescriber's home: their work (a new prescription, the renewal requests waiting,
    the recent patients) and whether their key can sign."""
    with unit_of_work(current_account()) as uow:
        profile = accounts.profile(uow)
        requests = renewal_requests.list_for_prescriber(uow)
        recent = prescriber_patients.recent_patients(uow)
        refusal = prescribers.signing_refusal(uow)
    return render_template(
        "prescriber/home.html",
        profile=profile,
        requests=requests,
        recent=recent,
        signing_refusal=refusal,
    )


# -- one prescription -------------------------------------------------------------------------


def _inline_svg(text: str) -> Markup:
    svg = qr.render_svg(text).decode()
    return Markup(svg[svg.index("<svg") :])  # our own SVG: no user text in it


@bp.route("/prescriptions/<number>")
@login_required(Role.PRESCRIBER)
def show(number: str):
    """A prescription with its QR code, printable on one A4 page; its access code, once."""
    with unit_of_work(current_account()) as uow:
        prescription = prescription_reading.get(uow, number)
        view = prescription_views.verified_view(prescription, today_of(uow.now))
        # Only what can still be collected has a code to show, or a copy to print.
        collectable = Status(view.status) in OPEN_STATES
        text = prescription_qr.qr_text(uow, number) if collectable else None
    just_issued = session.get(JUST_ISSUED) or {}
    access_code = None
    if just_issued.get("number") == prescription.number:
        access_code = session.pop(JUST_ISSUED)["access_code"]
    return render_template(
        "prescriber/show.html",
        p=view,
        qr_svg=_inline_svg(text) if text else None,
        access_code=access_code if collectable else None,
        status_label=STATUS_LABELS[Status(view.status)],
    )


@bp.route("/prescriptions/<number>/renew")
@login_required(Role.PRESCRIBER)
def renew(number: str):
    """The form prefilled from a past prescription; reviewing and signing make a new one."""
    with unit_of_work(current_account()) as uow:
        prescription = prescription_reading.get(uow, number)
        recent = prescriber_patients.recent_patients(uow)
        refusal = prescribers.signing_refusal(uow)
    view = prescription_views.verified_view(prescription, today_of(uow.now))
    return _form_page(
        _draft_from(view), recent=recent, renewing=view.number, signing_refusal=refusal
    )


@bp.route("/prescriptions/<number>/cancel", methods=["GET", "POST"])
@login_required(Role.PRESCRIBER)
def cancel(number: str):
    """Cancel the lines chosen (all that can be, by default) with a reason and the PIN."""
    errors: dict = {}
    reason, chosen = "", None
    if request.method == "POST":
        reason = request.form.get("reason", "")
        chosen = [int(line) for line in request.form.getlist("lines") if line.isdigit()]
        whole = request.form.get("scope", "whole") == "whole"
        try:
            with unit_of_work(current_account()) as uow:
                cancelling.cancel(
                    uow,
                    number,
                    pin=request.form.get("pin", ""),
                    reason=reason,
                    lines=None if whole else chosen,
                )
        except DomainError as error:
            errors = error.errors or {"form": [error.detail]}
            if not isinstance(error, ValidationFailed) and "form" not in errors:
                errors["form"] = [error.detail]
        else:
            flash(gettext("The prescription has been cancelled as asked."), "success")
            return redirect(url_for("prescriber.show", number=number))
    # The form (again, after a refused cancellation: that use case was rolled back).
    with unit_of_work(current_account()) as uow:
        prescription = prescription_reading.get(uow, number)
    view = prescription_views.describe(prescription, today_of(uow.now))
    return render_template(
        "prescriber/cancel.html", p=view, errors=errors, reason=reason, chosen=chosen
    )


# -- the list ---------------------------------------------------------------------------------


@bp.route("/prescriptions", methods=["GET", "POST"])
@login_required(Role.PRESCRIBER)
def index():
    """The prescriptions this prescriber issued; the patient filter is posted, so that no NIR
    ever appears in a URL (or an access log)."""
    source = request.form if request.method == "POST" else request.args
    patient_nir = request.form.get("patient", "").strip() if request.method == "POST" else ""
    status = source.get("status", "").strip()
    page_text = source.get("page", "1")
    page = int(page_text) if page_text.isdigit() else 1
    errors: dict = {}
    try:
        with unit_of_work(current_account()) as uow:
            desk = renewal_requests.desk(
                uow, patient_nir=patient_nir or None, status=status or None, page=page
            )
    except ValidationFailed as error:
        errors, desk = error.errors, None
    result = desk.prescriptions if desk else None
    rows = (
        [prescription_views.describe(item, result.today) for item in result.items] if result else []
    )
    return render_template(
        "prescriber/list.html",
        requests=desk.requests if desk else [],
        rows=rows,
        result=result,
        errors=errors,
        patient_nir=patient_nir,
        status=status,
        statuses=STATUS_LABELS,
    )


# -- renewal requests -------------------------------------------------------------------------


@bp.route("/renewal-requests/<row_id:request_id>/renew")
@login_required(Role.PRESCRIBER)
def renew_request(request_id: int):
    """The renewal form prefilled from the prescription asked for; the request's id goes
    through review and signature, which marks it renewed with the new prescription."""
    with unit_of_work(current_account()) as uow:
        asked, prescription = renewal_requests.open_pending(uow, request_id)
        recent = prescriber_patients.recent_patients(uow)
    view = prescription_views.verified_view(prescription, today_of(uow.now))
    draft = _draft_from(view) | {"renewal_request": str(request_id)}
    return _form_page(draft, recent=recent, renewing=view.number, asked=asked)


@bp.route("/renewal-requests/<row_id:request_id>/review")
@login_required(Role.PRESCRIBER)
def review_request(request_id: int):
    """Renewal in one action: the review of the prescription asked for, prefilled (new dates),
    ready for the PIN; "Change the prescription" leads to the form."""
    with unit_of_work(current_account()) as uow:
        asked, prescription = renewal_requests.open_pending(uow, request_id)
        view = prescription_views.verified_view(prescription, today_of(uow.now))
    draft = _draft_from(view) | {"renewal_request": str(request_id)}
    issue_request, _ = _issue_request(draft)
    form = {"renewing": view.number, "asked": asked}
    return _review_or_form(draft, issue_request, form, asked=asked)


@bp.route("/renewal-requests/<row_id:request_id>/decline", methods=["GET", "POST"])
@login_required(Role.PRESCRIBER)
def decline_request(request_id: int):
    """Decline a pending request with a message the patient reads in their health space."""
    message = request.form.get("message", "")  # empty on the first GET
    errors: dict = {}
    status = OK
    if request.method == "POST":
        try:
            with unit_of_work(current_account()) as uow:
                renewal_requests.decline(uow, request_id, message=message)
        except ValidationFailed as error:
            errors, status = error.errors, status_for(error)
        else:
            flash(
                gettext("The renewal request is declined; the patient can read your message."),
                "success",
            )
            return redirect(url_for("prescriber.index"))
    # The form (again, after a refused decline: that use case was rolled back).
    with unit_of_work(current_account()) as uow:
        asked, _ = renewal_requests.open_pending(uow, request_id)
    page = render_template("prescriber/decline.html", r=asked, errors=errors, message=message)
    return page, status

"""The prescriber's pages: compose, review and sign a prescription; list, show, renew, cancel;
answer the patients' renewal requests."""

import re
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
from markupsafe import Markup

from eprescription import qr
from eprescription.domain.errors import (
    DomainError,
    NotFound,
    RenewalRequestClosed,
    ValidationFailed,
    WrongPin,
)
from eprescription.domain.prescriptions import (
    RENEWALS_MAX,
    ItemDraft,
    NonSubstitutionReason,
    PickupMode,
    Status,
)
from eprescription.errors import OK, status_for
from eprescription.models import Role
from eprescription.services import prescribing, prescriptions, renewal_requests
from eprescription.use_cases import unit_of_work
from eprescription.web.auth import current_account, login_required

bp = Blueprint("prescriber", __name__, url_prefix="/prescriber")

ITEM_FIELD = re.compile(r"items-(\d{1,2})-([a-z_]+)")
ITEM_FIELDS = (
    "cis",
    "medication_label",
    "substance_code",
    "strength",
    "form",
    "dosage_text",
    "dose",
    "dose_unit",
    "frequency_per_day",
    "duration_days",
    "quantity",
    "not_substitutable",
    "non_substitution_reason",
    "ald",
)
TOP_FIELDS = (
    "patient_nir",
    "renewals",
    "valid_from",
    "valid_until",
    "pickup_mode",
    "renewal_request",  # the id of the patient's request this prescription answers
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
    NonSubstitutionReason.MTE: "narrow therapeutic margin (marge thérapeutique étroite)",
    NonSubstitutionReason.EFG: "child under 6, no suitable generic form",
    NonSubstitutionReason.CIF: "formal contraindication to an excipient",
}
PICKUP_TEXTS = {
    PickupMode.PUBLIC: "Anyone presenting the code (public)",
    PickupMode.PRIVATE: "The patient in person only (private)",
    PickupMode.AUTHORISED: "The patient or a representative they authorised",
}
BLANK_ITEM = dict.fromkeys(ITEM_FIELDS, "") | {"quantity": "1"}
STATUS_LABELS = {
    Status.ACTIVE: "Active",
    Status.PARTIALLY_DISPENSED: "Partially dispensed",
    Status.COMPLETED: "Completed",
    Status.CANCELLED: "Cancelled",
    Status.EXPIRED: "Expired",
}


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
        _add(problems, path, "a whole number" if kind is int else "a number")
        return None


def _day(problems: dict, name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _add(problems, (name,), "a date (YYYY-MM-DD)")
        return None


def _add(problems: dict, path: tuple, message: str) -> None:
    node = problems
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).append(message)


def _issue_request(draft: dict, pin: str = "") -> tuple[prescriptions.IssueRequest, dict]:
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
            )
        )
    renewals = _number(problems, ("renewals",), draft["renewals"])
    renewal_request = _number(problems, ("renewal_request",), draft["renewal_request"])
    issue_request = prescriptions.IssueRequest(
        patient_nir=draft["patient_nir"],
        pin=pin,
        items=items,
        valid_from=_day(problems, "valid_from", draft["valid_from"]),
        valid_until=_day(problems, "valid_until", draft["valid_until"]),
        renewals=0 if renewals is None else renewals,
        pickup_mode=draft["pickup_mode"] or None,
        renewal_request_id=renewal_request,
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


def _draft_from(content: dict) -> dict:
    """A draft prefilled from a prescription's signed content (renewal)."""
    items = []
    for item in content["items"]:
        drug, dosage = item["medication"], item["dosage"]
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
                "quantity": str(item["quantity"]),
                "not_substitutable": "" if item["substitutable"] else "1",
                "non_substitution_reason": item.get("non_substitution_reason") or "",
                "ald": "1" if item["ald"] else "",
            }
        )
    return {
        "patient_nir": content["patient"]["identifier"]["value"],
        "renewals": str(content["renewals"]),
        "valid_from": "",
        "valid_until": "",
        "pickup_mode": content["pickup_mode"],
        "renewal_request": "",
        "items": items,
    }


# -- composing, reviewing, signing ------------------------------------------------------------


def _recent_patients() -> list:
    """The form's recent patients, when the page has no unit of work of its own to read them
    in (the form shown at first, or again after a use case that failed and rolled back)."""
    with unit_of_work(current_account()) as uow:
        return prescribing.recent_patients(uow)


def _form_page(
    draft: dict | None = None,
    errors: dict | None = None,
    *,
    recent: list | None = None,
    renewing=None,
    asked=None,
    status=OK,
):
    return render_template(
        "prescriber/new.html",
        draft=draft or {name: "" for name in TOP_FIELDS} | {"items": []},
        errors=errors or {},
        recent=_recent_patients() if recent is None else recent,
        renewing=renewing,
        asked=asked,
        templates=DOSAGE_TEMPLATES,
        reasons=list(REASON_TEXTS.items()),
        pickup_modes=list(PICKUP_TEXTS.items()),
        blank_item=BLANK_ITEM,
        renewals_max=RENEWALS_MAX,
    ), status


@bp.route("/prescriptions/new", methods=["GET", "POST"])
@login_required(Role.PRESCRIBER)
def new():
    """GET: the empty form. POST: check everything and show the review, or the form again."""
    if request.method == "GET":
        return _form_page()
    draft = _draft(request.form)
    issue_request, parsed = _issue_request(draft)
    try:
        with unit_of_work(current_account()) as uow:
            review = prescribing.review(uow, issue_request)
            recent = prescribing.recent_patients(uow) if parsed else None
    except ValidationFailed as error:
        return _form_page(draft, _merge(error.errors, parsed))
    if parsed:
        return _form_page(draft, parsed, recent=recent)
    return _review_page(draft, review)


def _review_page(draft: dict, review, *, pin_error: str = "", blocked: str = ""):
    return render_template(
        "prescriber/review.html",
        draft=draft,
        review=review,
        content=review.content,
        pin_error=pin_error,
        blocked=blocked,
    )


@bp.route("/prescriptions/sign", methods=["POST"])
@login_required(Role.PRESCRIBER)
def sign():
    """Sign what the review showed; back to the review on a wrong PIN, to the form if the
    content is no longer valid; the new prescription's page otherwise."""
    draft = _draft(request.form)
    if request.form.get("action") == "edit":
        return _form_page(draft)
    issue_request, parsed = _issue_request(draft, request.form.get("pin", ""))
    if parsed:
        return _form_page(draft, parsed)
    try:
        with unit_of_work(current_account()) as uow:
            issued = prescriptions.issue(uow, issue_request)
    except WrongPin as error:
        message = "; ".join(error.errors.get("pin", [])) or error.detail
        return _again(draft, issue_request, pin_error=message[:1].upper() + message[1:] + ".")
    except (RenewalRequestClosed, NotFound) as error:  # the request was answered meanwhile
        return _form_page(draft | {"renewal_request": ""}, {"renewal_request": [error.detail]})
    except ValidationFailed as error:
        return _form_page(draft, error.errors)
    except DomainError as error:  # blocked key, revoked or expired certificate, no key
        return _again(draft, issue_request, blocked=error.detail)
    number = issued.prescription.number
    session[JUST_ISSUED] = {"number": number, "access_code": issued.access_code}
    if issue_request.renewal_request_id is not None:
        flash("Renewed: the patient sees the new prescription in their health space.", "success")
    return redirect(url_for("prescriber.show", number=number))


def _again(draft, issue_request, **message):
    """The review again, after a signature that was refused (and rolled back)."""
    with unit_of_work(current_account()) as uow:
        review = prescribing.review(uow, issue_request)
    return _review_page(draft, review, **message)


@bp.route("/patients/lookup", methods=["POST"])
@login_required(Role.PRESCRIBER)
def lookup_patient():
    """JSON for the form's script: who has this NIR (errors are problem+json, as the API's)."""
    nir = (request.get_json(silent=True) or {}).get("nir")
    with unit_of_work(current_account()) as uow:
        patient = prescribing.find_patient(uow, nir)
    return jsonify(
        name=patient.full_name,
        birth_date=patient.birth_date.isoformat() if patient.birth_date else None,
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
        prescription = prescriptions.get(uow, number)
        text = prescriptions.qr_text(uow, number)
    just_issued = session.get(JUST_ISSUED) or {}
    access_code = None
    if just_issued.get("number") == prescription.number:
        access_code = session.pop(JUST_ISSUED)["access_code"]
    view = prescriptions.describe(prescription, prescriptions.today_of(uow.now))
    return render_template(
        "prescriber/show.html",
        p=view,
        qr_svg=_inline_svg(text),
        access_code=access_code,
        status_label=STATUS_LABELS[Status(view["status"])],
    )


@bp.route("/prescriptions/<number>/renew")
@login_required(Role.PRESCRIBER)
def renew(number: str):
    """The form prefilled from a past prescription; reviewing and signing make a new one."""
    with unit_of_work(current_account()) as uow:
        prescription = prescriptions.get(uow, number)
        recent = prescribing.recent_patients(uow)
    view = prescriptions.describe(prescription, prescriptions.today_of(uow.now))
    content = {**view, "items": [item for item in view["items"] if item["status"] != "cancelled"]}
    return _form_page(_draft_from(content), recent=recent, renewing=view["number"])


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
                prescriptions.cancel(
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
            flash("The prescription has been cancelled as asked.", "success")
            return redirect(url_for("prescriber.show", number=number))
    # The form (again, after a refused cancellation: that use case was rolled back).
    with unit_of_work(current_account()) as uow:
        prescription = prescriptions.get(uow, number)
    view = prescriptions.describe(prescription, prescriptions.today_of(uow.now))
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
    rows = [prescriptions.describe(item, result.today) for item in result.items] if result else []
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
        recent = prescribing.recent_patients(uow)
    view = prescriptions.describe(prescription, prescriptions.today_of(uow.now))
    content = {**view, "items": [item for item in view["items"] if item["status"] != "cancelled"]}
    draft = _draft_from(content) | {"renewal_request": str(request_id)}
    return _form_page(draft, recent=recent, renewing=view["number"], asked=asked)


@bp.route("/renewal-requests/<row_id:request_id>/decline", methods=["GET", "POST"])
@login_required(Role.PRESCRIBER)
def decline_request(request_id: int):
    """Decline a pending request with a message the patient reads in their health space."""
    errors: dict = {}
    message, status = "", OK
    if request.method == "POST":
        message = request.form.get("message", "")
        try:
            with unit_of_work(current_account()) as uow:
                renewal_requests.decline(uow, request_id, message=message)
        except ValidationFailed as error:
            errors, status = error.errors, status_for(error)
        else:
            flash("The renewal request is declined; the patient can read your message.", "success")
            return redirect(url_for("prescriber.index"))
    # The form (again, after a refused decline: that use case was rolled back).
    with unit_of_work(current_account()) as uow:
        asked, _ = renewal_requests.open_pending(uow, request_id)
    page = render_template("prescriber/decline.html", r=asked, errors=errors, message=message)
    return page, status

"""The pharmacist's pages: scan a prescription (wedge scanner, camera, or number + NIR) or read
the patient's card, dispense once (Idempotency-Key per form), print the signed receipt, reopen
and reverse the pharmacy's dispensations."""

import json
import uuid
from dataclasses import asdict

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from eprescription import throttling
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    DomainError,
    InvalidPrescriptionNumber,
    NotFound,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.errors import CREATED, SEE_OTHER, status_for
from eprescription.models import Role
from eprescription.schemas import dispensing as bodies
from eprescription.schemas.dispensing import (
    DispensationListArgsSchema,
    ReversalSchema,
    ScanSchema,
)
from eprescription.services import (
    card_lookup,
    counter_access,
    counter_packs,
    dispensation_reversal,
    dispensing,
    pharmacy_dispensations,
    pharmacy_scan,
    pharmacy_view,
    receipts,
    verification,
)
from eprescription.signing.canonical import canonical_json
from eprescription.use_cases import unit_of_work
from eprescription.web import counter_forms, forms
from eprescription.web.auth import current_account, login_required
from eprescription.web.formats import day
from eprescription.web.messages import MESSAGES, message
from eprescription.web.patient_filters import PICKUP_WORDS

bp = Blueprint("pharmacy", __name__, url_prefix="/pharmacy")

NO_STORE = {"Cache-Control": "no-store"}  # the pages carry the QR text or the patient's NIR
SCAN_FIELDS = ("code", "number", "patient_nir", "presenter_nir")
CARD_FIELDS = ("nir", "presenter_nir")
RECEIPT_EXTRAS = (
    "prescription_status",
    "prescription_version",
    "reversed_at",
    "reversible_until",
    "reversal",
    "jws",
    "limits",
)
STATUS_TEXTS = {
    "active": _l("Active"),
    "partially_dispensed": _l("Partially dispensed"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
}
CARD_BLANK = {"nir": "", "presenter": "patient", "presenter_nir": "", "identity_confirmed": False}
# Who collects: the dispensing form's choice, and the receipt's words.
COLLECTORS = {
    "patient": (_l("The patient"), _l("the patient")),
    "representative": (_l("A representative of the patient"), _l("a representative")),
    "other": (_l("Someone else"), _l("another person")),
}
COLLECTOR_TEXTS = {kind: choice for kind, (choice, _receipt) in COLLECTORS.items()}
PICKUP_TEXTS = {mode: words for mode, (_patient, words) in PICKUP_WORDS.items()}


@bp.app_template_filter("reasons")
def reasons(items) -> Markup:
    """Why something cannot be verified, joined: each in the page language by its code; one
    the service gives without a code as it is, marked English (lang="en")."""
    return Markup("; ").join(
        escape(message(item))
        if isinstance(item, Message) and item.code in MESSAGES
        else Markup('<span lang="en">%s</span>') % item
        for item in items
    )


@bp.app_template_filter("dispensing_status")
def dispensing_status(status: str) -> str:
    return str(STATUS_TEXTS.get(status, status))


@bp.app_template_filter("collected_by")
def collected_by(kind: str) -> str:
    """Who collected a dispensation, as the receipt says it."""
    return str(COLLECTORS[kind][1]) if kind in COLLECTORS else kind


@bp.app_template_filter("grouped_number")
def grouped_number(number: str) -> str:
    return codes.display_number(number)


def _typed(names: tuple[str, ...]) -> dict:
    """The form's fields as typed, to show them again (the schemas read what is sent)."""
    form = request.form
    shown = {name: form.get(name, "")[: counter_forms.INPUT_MAX].strip() for name in names}
    return {**shown, "identity_confirmed": bool(form.get("identity_confirmed"))}


def _by_field(errors: dict, names: tuple[str, ...]) -> dict:
    """The errors next to the fields the page shows; those of the others above the form."""
    shown: dict = {}
    for key, value in errors.items():
        shown.setdefault(key if key in names else "form", []).extend(
            value if isinstance(value, list) else [value]
        )
    return shown


def _credentials() -> counter_access.Credentials:
    """The QR text (wedge scanner), or the number with the patient's NIR (typed) and, when a
    representative is at the counter, their NIR: the form read as the API reads a scan."""
    return bodies.credentials(forms.read(ScanSchema()))


# -- scanning ---------------------------------------------------------------------------------


def _scan_page(*, manual=None, errors=None, refusal=None, status=None):
    return (
        render_template(
            "pharmacy/scan.html",
            manual=manual
            or {"number": "", "patient_nir": "", "presenter_nir": "", "identity_confirmed": False},
            errors=errors or {},
            refusal=refusal,
        ),
        status,
        NO_STORE,
    )


def _scan_errors(error: ValidationFailed) -> dict:
    """The schema's or the service's messages next to the field they are about."""
    if error.errors:
        return _by_field(error.errors, SCAN_FIELDS)
    if request.form.get("code"):
        return {"code": [error.detail]}
    if isinstance(error, InvalidPrescriptionNumber):
        return {"number": [error.detail]}
    return {"form": [error.detail]}


def _refusal(error: DomainError, *, by_fields: bool = False) -> dict:
    """A refused action's code and words; `by_fields`: said next to the fields only (the page
    keeps its code, as the API's problem does)."""
    return {
        "code": error.code,
        "title": error.title,
        "detail": error.detail,
        "by_fields": by_fields,
    }


@bp.route("/scan", methods=["GET", "POST"])
@throttling.guesses("prescription_code", target=throttling.typed_number)
@login_required(Role.PHARMACIST)
def scan():
    """GET: the scan field (focused) and manual entry. POST: open the prescription, signature
    verified, and show what is left to dispense; a refusal is explained on the scan page."""
    if request.method == "GET":
        return _scan_page()
    manual = _typed(SCAN_FIELDS[1:])
    try:
        credentials = _credentials()
        with unit_of_work(current_account()) as uow:
            view = pharmacy_scan.scan(uow, credentials)
            offers = counter_packs.offered(uow, view)
    except ValidationFailed as error:
        errors, refusal = _scan_errors(error), _refusal(error, by_fields=True)
        return _scan_page(manual=manual, errors=errors, refusal=refusal, status=status_for(error))
    except DomainError as error:
        return _scan_page(manual=manual, refusal=_refusal(error), status=status_for(error))
    return _prescription_page(view, credentials, offers)


# -- the prescription and the dispensing form -------------------------------------------------


def _blank_values(view: pharmacy_view.CounterView, credentials: counter_access.Credentials) -> dict:
    """The form as first shown: the rest of the current period of each open line; collected by
    the patient, or by the representative at the counter."""
    presenter = credentials.presenter_nir
    return {
        "lines": {
            item.line: {
                "pack": "",
                "quantity": str(item.period["remaining"]),
                "batch": "",
                "expiry": "",
            }
            for item in view.items
            if item.dispensable
        },
        "collected_kind": "representative" if presenter else "patient",
        "collected_national_id": presenter or "",
        "collected_name": "",
    }


def _prescription_page(
    view, credentials, offers, *, values=None, errors=None, refusal=None, status=None
):
    """What the pharmacist sees, with the dispensing form (each line's packs to pick from) and
    a fresh Idempotency-Key."""
    return (
        render_template(
            "pharmacy/prescription.html",
            p=view,
            credentials=credentials,
            values=values or _blank_values(view, credentials),
            errors=errors or {},
            refusal=refusal,
            open_lines=[item for item in view.items if item.dispensable],
            offers=offers,
            idempotency_key=uuid.uuid4().hex,
            pickup_texts=PICKUP_TEXTS,
            collector_texts=COLLECTOR_TEXTS,
        ),
        status,
        NO_STORE,
    )


def _request_body(number: str, asked: dispensing.DispenseRequest) -> bytes:
    """What identifies this dispensation request for the Idempotency-Key (a replay must match)."""
    lines = [
        {**asdict(pack), "expiry": pack.expiry.isoformat() if pack.expiry else None}
        for pack in asked.lines
    ]
    return canonical_json(
        {
            "number": number,
            "credentials": asdict(asked.credentials),
            "lines": lines,
            "collected_by": asdict(asked.collected_by),
            "if_match": asked.if_match,
        }
    )


@bp.route("/prescriptions/<number>/dispensations", methods=["POST"])
@login_required(Role.PHARMACIST)
def dispense(number: str):
    """Record what is given, exactly once per form (its Idempotency-Key), and show the receipt;
    a refusal shows the prescription again as it is now, with the messages by their fields."""
    values = counter_forms.typed(request.form)
    numbers = counter_forms.given_lines(values)
    try:
        credentials = _credentials()
    except ValidationFailed as error:  # how it was opened (hidden fields) is not readable
        refusal = _refusal(error, by_fields=True)
        return _scan_page(errors=_scan_errors(error), refusal=refusal, status=status_for(error))
    try:
        sent = forms.read(counter_forms.DispenseForm())
    except ValidationFailed as error:
        errors = counter_forms.page_errors(error.errors or {}, numbers)
        return _again(
            credentials, values, errors, _refusal(error, by_fields=True), status_for(error)
        )
    dispense_request = bodies.dispense_request(sent, sent.get("version"))
    key = sent.get("idempotency_key") or uuid.uuid4().hex
    body = _request_body(number, dispense_request)
    # A double click sends the same key while the first request still runs: the claim waits
    # for it to end, then this one shows the same receipt.
    try:
        with unit_of_work(current_account()) as uow:
            answer = dispensing.dispense_once(
                uow,
                number,
                dispense_request,
                idempotency_key=key,
                scope=f"POST {request.path}",
                body=body,
                status=CREATED,
                render=lambda receipt: json.dumps(receipt.as_json(), sort_keys=True).encode(),
            )
            receipt = json.loads(answer.body)
            content = {k: v for k, v in receipt.items() if k not in RECEIPT_EXTRAS}
            report = verification.verify_document(uow, receipt["jws"], canonical_json(content))
    except DomainError as error:
        errors = counter_forms.page_errors(error.errors or {}, numbers)
        return _again(credentials, values, errors, _refusal(error), status_for(error))
    return render_template("pharmacy/receipt.html", r=receipt, report=report), NO_STORE


def _again(credentials, values, errors, refusal, status):
    """The prescription as it is now (scanned again), with the form as typed and the errors;
    the scan page when it can no longer be opened (completed, cancelled…)."""
    try:
        with unit_of_work(current_account()) as uow:
            view = pharmacy_scan.scan(uow, credentials)
            offers = counter_packs.offered(uow, view)
    except DomainError as error:
        return _scan_page(refusal=_refusal(error), status=status_for(error))
    return _prescription_page(
        view, credentials, offers, values=values, errors=errors, refusal=refusal, status=status
    )


@bp.route("/packs/read", methods=["POST"])
@login_required(Role.PHARMACIST)
def read_pack():
    """A box's DataMatrix read back for the dispensing form (its script shows the pack, batch
    and expiry before anything is dispensed): JSON, the refusal in the pharmacist's words."""
    try:
        code = forms.read(counter_forms.PackCodeForm())["code"]
        with unit_of_work(current_account()) as uow:
            reading = counter_packs.read(uow, code)
    except ValidationFailed as error:  # the box's code refused (InvalidGs1Code), or too long
        problem = (error.errors or {}).get("code", [error.detail])[0]
        return {"error": message(problem)}, status_for(error), NO_STORE
    return {
        "cip13": reading.cip13,
        "text": gettext(
            "Read from the box: %(pack)s, batch %(batch)s, expires %(expiry)s",
            pack=reading.name or reading.cip13,
            batch=reading.batch or "—",
            expiry=day(reading.expiry) if reading.expiry else "—",
        ),
    }, NO_STORE


# -- lookup by the patient's card ---------------------------------------------------------------


def _card_page(*, values=None, result=None, errors=None, refusal=None, status=None):
    return (
        render_template(
            "pharmacy/card.html",
            v=values or CARD_BLANK,
            result=result,
            errors=errors or {},
            refusal=refusal,
            pickup_texts=PICKUP_TEXTS,
        ),
        status,
        NO_STORE,
    )


@bp.route("/card", methods=["GET", "POST"])
@throttling.guesses("nir")
@login_required(Role.PHARMACIST)
def card():
    """GET: the NIR field (a card reader types it), who is at the counter (the patient, or a
    representative with their own NIR) and the identity check. POST (no NIR ever goes in a
    URL): what that person may see, each prescription opened by number + NIR(s)."""
    if request.method == "GET":
        return _card_page()
    values = {**_typed(CARD_FIELDS), "presenter": request.form.get("presenter", "patient")}
    try:
        asked = forms.read(counter_forms.CardForm())
        with unit_of_work(current_account()) as uow:
            result = card_lookup.lookup_by_card(uow, **bodies.card_lookup_arguments(asked))
    except ValidationFailed as error:
        errors = _by_field(error.errors or {"nir": [error.detail]}, CARD_FIELDS)
        refusal = _refusal(error, by_fields=True)
        return _card_page(values=values, errors=errors, refusal=refusal, status=status_for(error))
    if not result.prescriptions:
        throttling.missed()  # a card that shows nothing is a guess, as far as throttles go
    return _card_page(values=values, result=result)


# -- the pharmacy's dispensations: reopen, list, reverse ----------------------------------------


@bp.route("/dispensations")
@login_required(Role.PHARMACIST)
def recent():
    """This pharmacy's dispensations, newest first, a page at a time."""
    asked = forms.read(DispensationListArgsSchema(), location="query")
    with unit_of_work(current_account()) as uow:
        result = pharmacy_dispensations.recent(uow, page=asked["page"], per_page=asked["per_page"])
    return render_template("pharmacy/dispensations.html", result=result), NO_STORE


def _receipt_page(receipt: receipts.Receipt, *, refusal=None, errors=None, reason="", status=None):
    return (
        render_template(
            "pharmacy/receipt.html",
            r=receipt,
            report=receipt.receipt_signature,
            reopened=True,
            refusal=refusal,
            errors=errors or {},
            reason=reason,
        ),
        status,
        NO_STORE,
    )


@bp.route("/dispensations/<dispensation_id>")
@login_required(Role.PHARMACIST)
def dispensation(dispensation_id: str):
    """A receipt of this pharmacy reopened (another pharmacy's answers like an unknown one),
    with the reversal form while it can still be reversed."""
    with unit_of_work(current_account()) as uow:
        receipt = pharmacy_dispensations.read(uow, dispensation_id)
    return _receipt_page(receipt)


@bp.route("/dispensations/<dispensation_id>/<any(receipt, reversal):document>.jws")
@login_required(Role.PHARMACIST)
def signed_document(dispensation_id: str, document: str):
    """The receipt's or the reversal's compact JWS as a file (any JOSE library, or
    `flask verify FILE`, checks it)."""
    with unit_of_work(current_account()) as uow:
        receipt = pharmacy_dispensations.read(uow, dispensation_id)
    token = (
        receipt.jws
        if document == "receipt"
        else (receipt.reversal.jws if receipt.reversal else None)
    )
    if not token:
        raise NotFound(Message("no_signed_reversal", "This dispensation has no signed reversal."))
    filename = f"{document}-{receipt.id}.jws"
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(token + "\n", mimetype="application/jose", headers=headers)


@bp.route("/dispensations/<dispensation_id>/reversal", methods=["POST"])
@login_required(Role.PHARMACIST)
def reverse(dispensation_id: str):
    """Reverse with a reason, then the receipt again showing it reversed; a refusal is
    explained on the receipt."""
    reason = request.form.get("reason", "")[: dispensation_reversal.REASON_MAX + 1]  # as typed
    try:
        asked = forms.read(ReversalSchema())
        with unit_of_work(current_account()) as uow:
            dispensation_reversal.reverse(uow, dispensation_id, asked["reason"])
    except DomainError as error:
        with unit_of_work(current_account()) as uow:
            receipt = pharmacy_dispensations.read(uow, dispensation_id)
        errors = error.errors if isinstance(error, ValidationFailed) else None
        refusal = _refusal(error, by_fields=bool(errors))
        return _receipt_page(
            receipt, refusal=refusal, errors=errors, reason=reason, status=status_for(error)
        )
    flash(gettext("The dispensation is reversed: the quantities are available again."), "success")
    return redirect(url_for("pharmacy.dispensation", dispensation_id=dispensation_id), SEE_OTHER)

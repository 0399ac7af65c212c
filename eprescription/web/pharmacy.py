"""The pharmacist's pages: scan a prescription (wedge scanner, camera, or number + NIR) or read
the patient's card, dispense once (Idempotency-Key per form), print the signed receipt, reopen
and reverse the pharmacy's dispensations."""

import calendar
import json
import re
import uuid
from datetime import date

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
from werkzeug.datastructures import MultiDict

from eprescription import throttling
from eprescription.domain import dispensing as rules
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    DomainError,
    InvalidGs1Code,
    InvalidPrescriptionNumber,
    NotFound,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.errors import CREATED, SEE_OTHER, status_for
from eprescription.models import Role
from eprescription.services import (
    card_lookup,
    counter_access,
    counter_packs,
    dispensation_reversal,
    dispensed_packs,
    dispensing,
    pharmacy_dispensations,
    pharmacy_scan,
    pharmacy_view,
    verification,
)
from eprescription.signing.canonical import canonical_json
from eprescription.use_cases import unit_of_work
from eprescription.web.auth import current_account, login_required
from eprescription.web.formats import day
from eprescription.web.messages import message

bp = Blueprint("pharmacy", __name__, url_prefix="/pharmacy")

NO_STORE = {"Cache-Control": "no-store"}  # the pages carry the QR text or the patient's NIR
CIP13 = re.compile(r"[0-9]{13}")
WHOLE = re.compile(r"[0-9]{1,6}")
LINE_FIELD = re.compile(r"lines-([0-9]{1,2})-(pack|quantity|batch|expiry)")
LINE_FIELDS = ("pack", "quantity", "batch", "expiry")
INPUT_MAX = 256  # longer than any QR text, number, NIR or GS1 string we accept
RECEIPT_EXTRAS = (
    "prescription_status",
    "prescription_version",
    "reversed_at",
    "reversible_until",
    "reversal",
    "jws",
    "limits",
)
PICKUP_TEXTS = {
    "public": _l("Public: anyone presenting the code"),
    "private": _l("Private: the patient in person only (check their identity)"),
    "authorised": _l("Authorised: the patient in person, or a representative they named"),
}
STATUS_TEXTS = {
    "active": _l("Active"),
    "partially_dispensed": _l("Partially dispensed"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
}
CARD_BLANK = {"nir": "", "presenter": "patient", "presenter_nir": "", "identity_confirmed": False}
COLLECTOR_TEXTS = {
    "patient": _l("The patient"),
    "representative": _l("A representative of the patient"),
    "other": _l("Someone else"),
}
COLLECTED_BY_TEXTS = {
    "patient": _l("the patient"),
    "representative": _l("a representative"),
    "other": _l("another person"),
}


@bp.app_template_filter("dispensing_status")
def dispensing_status(status: str) -> str:
    return str(STATUS_TEXTS.get(status, status))


@bp.app_template_filter("collected_by")
def collected_by(kind: str) -> str:
    """Who collected a dispensation, as the receipt says it."""
    return str(COLLECTED_BY_TEXTS.get(kind, kind))


@bp.app_template_filter("grouped_number")
def grouped_number(number: str) -> str:
    return codes.display_number(number)


def _text(form: MultiDict, name: str) -> str:
    return form.get(name, "")[:INPUT_MAX].strip()


def _credentials(form: MultiDict) -> counter_access.Credentials:
    """The QR text (wedge scanner), or the number with the patient's NIR (typed) and, when a
    representative is at the counter, their NIR."""
    confirmed = bool(form.get("identity_confirmed"))
    if "code" in form:
        return counter_access.Credentials(qr_text=_text(form, "code"), identity_confirmed=confirmed)
    return counter_access.Credentials(
        number=_text(form, "number"),
        patient_nir=_text(form, "patient_nir"),
        identity_confirmed=confirmed,
        presenter_nir=_text(form, "presenter_nir") or None,
    )


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


def _scan_errors(error: ValidationFailed, credentials: counter_access.Credentials) -> dict:
    """The service's messages next to the field they are about."""
    if error.errors:
        return error.errors
    if credentials.qr_text is not None:
        return {"code": [error.detail]}
    if isinstance(error, InvalidPrescriptionNumber):
        return {"number": [error.detail]}
    return {"form": [error.detail]}


def _refusal(error: DomainError) -> dict:
    return {"code": error.code, "title": error.title, "detail": error.detail}


@bp.route("/scan", methods=["GET", "POST"])
@throttling.guesses("prescription_code", target=throttling.typed_number)
@login_required(Role.PHARMACIST)
def scan():
    """GET: the scan field (focused) and manual entry. POST: open the prescription, signature
    verified, and show what is left to dispense; a refusal is explained on the scan page."""
    if request.method == "GET":
        return _scan_page()
    credentials = _credentials(request.form)
    manual = {
        "number": credentials.number or "",
        "patient_nir": credentials.patient_nir or "",
        "presenter_nir": credentials.presenter_nir or "",
        "identity_confirmed": credentials.identity_confirmed,
    }
    try:
        with unit_of_work(current_account()) as uow:
            view = pharmacy_scan.scan(uow, credentials)
            offers = counter_packs.offered(uow, view)
    except ValidationFailed as error:
        errors = _scan_errors(error, credentials)
        return _scan_page(manual=manual, errors=errors, status=status_for(error))
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


def _values(form: MultiDict) -> dict:
    """The dispensing form as typed (strings), per prescription line."""
    lines: dict[int, dict] = {}
    for key in form:
        match = LINE_FIELD.fullmatch(key)
        if match:
            lines.setdefault(int(match.group(1)), dict.fromkeys(LINE_FIELDS, ""))[
                match.group(2)
            ] = _text(form, key)
    return {
        "lines": dict(sorted(lines.items())),
        "collected_kind": _text(form, "collected_kind") or "patient",
        "collected_national_id": _text(form, "collected_national_id"),
        "collected_name": _text(form, "collected_name"),
    }


def _add(problems: dict, path: tuple, message: str) -> None:
    node = problems
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).append(message)


def _expiry(text: str) -> date:
    """A pack's expiry as typed: YYYY-MM-DD, or the month printed on the box (MM/YYYY or
    YYYY-MM, meaning its last day)."""
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return date.fromisoformat(text)
    month = re.fullmatch(r"([0-9]{1,2})/([0-9]{4})", text) or re.fullmatch(
        r"([0-9]{4})-([0-9]{1,2})", text
    )
    if not month:
        raise ValueError(text)
    first, second = (int(part) for part in month.groups())
    year, number = (second, first) if "/" in text else (first, second)
    return date(year, number, calendar.monthrange(year, number)[1])


def _pack_lines(values: dict, problems: dict) -> tuple[list[dispensed_packs.PackLine], list[int]]:
    """The packs to record (lines whose pack is given), and the line number of each."""
    packs, numbers = [], []
    for number, line in values["lines"].items():
        if not line["pack"]:
            continue
        path, pack, readable = ("lines", number), line["pack"], True
        if not WHOLE.fullmatch(line["quantity"]) or int(line["quantity"]) < 1:
            _add(problems, (*path, "quantity"), gettext("a whole number of packs, at least 1"))
            readable = False
        expiry = None
        if line["expiry"]:
            try:
                expiry = _expiry(line["expiry"])
            except ValueError:
                _add(
                    problems,
                    (*path, "expiry"),
                    gettext("a date: MM/YYYY as on the box, or YYYY-MM-DD"),
                )
                readable = False
        if not readable:
            continue
        packs.append(
            dispensed_packs.PackLine(
                line=number,
                quantity=int(line["quantity"]),
                cip13=pack if CIP13.fullmatch(pack) else None,
                gs1=None if CIP13.fullmatch(pack) else pack,
                batch=line["batch"] or None,
                expiry=expiry,
            )
        )
        numbers.append(number)
    if not packs and not problems:
        _add(
            problems,
            ("lines_form",),
            gettext("Give the pack (CIP13 or its scanned code) of a line."),
        )
    return packs, numbers


def _collector(values: dict, problems: dict) -> dispensing.Collector:
    kind = values["collected_kind"]
    if kind not in rules.COLLECTOR_KINDS:
        _add(problems, ("collected_kind",), gettext("choose who collects it"))
    elif problem := rules.collector_identity_problem(
        kind, values["collected_national_id"], values["collected_name"]
    ):
        _add(problems, ("collected_name",), problem)
    return dispensing.Collector(
        kind,
        values["collected_national_id"] or None,
        values["collected_name"] or None,
    )


def _service_errors(error: DomainError, numbers: list[int]) -> dict:
    """The service's errors (per index of the packs sent) as errors per prescription line."""
    errors: dict = {}
    for key, value in (error.errors or {}).items():
        if key == "lines" and isinstance(value, dict):
            for index, fields in value.items():
                if not isinstance(fields, dict):
                    errors.setdefault("lines_form", []).extend(fields)
                    continue
                for field, messages in fields.items():
                    name = field if field in ("batch", "expiry", "quantity") else "pack"
                    for message in messages:
                        _add(errors, ("lines", numbers[int(index)], name), message)
        elif key == "lines":
            errors["lines_form"] = list(value)
        elif key in ("patient_nir", "presenter_nir"):
            errors.setdefault("form", []).extend(value)
        elif key == "collected_by" and isinstance(value, dict):
            errors["collected_national_id"] = list(value.get("national_id", []))
    return errors


def _request_body(number: str, credentials, packs, collector, if_match) -> bytes:
    """What identifies this dispensation request for the Idempotency-Key (a replay must match)."""
    return canonical_json(
        {
            "number": number,
            "code": credentials.qr_text,
            "prescription_number": credentials.number,
            "patient_nir": credentials.patient_nir,
            "presenter_nir": credentials.presenter_nir,
            "identity_confirmed": credentials.identity_confirmed,
            "lines": [
                {
                    "line": pack.line,
                    "quantity": pack.quantity,
                    "cip13": pack.cip13,
                    "gs1": pack.gs1,
                    "batch": pack.batch,
                    "expiry": pack.expiry.isoformat() if pack.expiry else None,
                }
                for pack in packs
            ],
            "collected_by": [collector.kind, collector.national_id, collector.name],
            "if_match": if_match,
        }
    )


@bp.route("/prescriptions/<number>/dispensations", methods=["POST"])
@login_required(Role.PHARMACIST)
def dispense(number: str):
    """Record what is given, exactly once per form (its Idempotency-Key), and show the receipt;
    a refusal shows the prescription again as it is now, with the messages by their fields."""
    form = request.form
    credentials = _credentials(form)
    values = _values(form)
    problems: dict = {}
    packs, numbers = _pack_lines(values, problems)
    collector = _collector(values, problems)
    version = _text(form, "version")
    if_match = int(version) if WHOLE.fullmatch(version) else None
    if problems:
        status = status_for(ValidationFailed(errors=problems))
        return _again(credentials, values, problems, None, status)
    dispense_request = dispensing.DispenseRequest(credentials, packs, collector, if_match)
    key = _text(form, "idempotency_key") or uuid.uuid4().hex
    body = _request_body(number, credentials, packs, collector, if_match)
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
                render=lambda receipt: json.dumps(receipt, sort_keys=True).encode(),
            )
            receipt = json.loads(answer.body)
            content = {k: v for k, v in receipt.items() if k not in RECEIPT_EXTRAS}
            report = verification.verify_document(uow, receipt["jws"], canonical_json(content))
    except DomainError as error:
        errors = _service_errors(error, numbers)
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
        with unit_of_work(current_account()) as uow:
            reading = counter_packs.read(uow, _text(request.form, "code"))
    except InvalidGs1Code as error:
        return {"error": message(error.detail)}, status_for(error), NO_STORE
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


def _card_page(*, values=None, result=None, errors=None, status=None):
    return (
        render_template(
            "pharmacy/card.html",
            v=values or CARD_BLANK,
            result=result,
            errors=errors or {},
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
    form = request.form
    values = {
        "nir": _text(form, "nir"),
        "presenter": "representative" if form.get("presenter") == "representative" else "patient",
        "presenter_nir": _text(form, "presenter_nir"),
        "identity_confirmed": bool(form.get("identity_confirmed")),
    }
    try:
        with unit_of_work(current_account()) as uow:
            result = card_lookup.lookup_by_card(
                uow,
                values["nir"],
                identity_confirmed=values["identity_confirmed"],
                presenter_nir=values["presenter_nir"] if values["presenter"] != "patient" else None,
                page=max(1, _page_number(_text(form, "page"))),
            )
    except ValidationFailed as error:
        errors = error.errors or {"nir": [error.detail]}
        return _card_page(values=values, errors=errors, status=status_for(error))
    if not result["prescriptions"]:
        throttling.missed()  # a card that shows nothing is a guess, as far as throttles go
    return _card_page(values=values, result=result)


# -- the pharmacy's dispensations: reopen, list, reverse ----------------------------------------


def _page_number(text: str) -> int:
    return int(text) if WHOLE.fullmatch(text or "") else 0


@bp.route("/dispensations")
@login_required(Role.PHARMACIST)
def recent():
    """This pharmacy's dispensations, newest first, a page at a time."""
    page = _page_number(request.args.get("page", "1"))
    with unit_of_work(current_account()) as uow:
        result = pharmacy_dispensations.recent(uow, page=page)
    return render_template("pharmacy/dispensations.html", result=result), NO_STORE


def _receipt_page(receipt: dict, *, refusal=None, errors=None, reason="", status=None):
    return (
        render_template(
            "pharmacy/receipt.html",
            r=receipt,
            report=receipt["receipt_signature"],
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
    token = receipt["jws"] if document == "receipt" else (receipt["reversal"] or {}).get("jws")
    if not token:
        raise NotFound(Message("no_signed_reversal", "This dispensation has no signed reversal."))
    filename = f"{document}-{receipt['id']}.jws"
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(token + "\n", mimetype="application/jose", headers=headers)


@bp.route("/dispensations/<dispensation_id>/reversal", methods=["POST"])
@login_required(Role.PHARMACIST)
def reverse(dispensation_id: str):
    """Reverse with a reason, then the receipt again showing it reversed; a refusal is
    explained on the receipt."""
    reason = request.form.get("reason", "")[: dispensation_reversal.REASON_MAX + 1]
    try:
        with unit_of_work(current_account()) as uow:
            dispensation_reversal.reverse(uow, dispensation_id, reason)
    except DomainError as error:
        with unit_of_work(current_account()) as uow:
            receipt = pharmacy_dispensations.read(uow, dispensation_id)
        errors = error.errors if isinstance(error, ValidationFailed) else None
        refusal = None if errors else _refusal(error)
        return _receipt_page(
            receipt, refusal=refusal, errors=errors, reason=reason, status=status_for(error)
        )
    flash(gettext("The dispensation is reversed: the quantities are available again."), "success")
    return redirect(url_for("pharmacy.dispensation", dispensation_id=dispensation_id), SEE_OTHER)

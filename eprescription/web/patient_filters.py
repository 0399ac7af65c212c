"""The health space's words in the page language, built from the structured fields that the
services return (their English sentences serve the JSON API)."""

from datetime import date, timedelta

from flask import Blueprint
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from eprescription.domain import health_space
from eprescription.services.patient_cards import Card, CardLine
from eprescription.web.formats import day

bp = Blueprint("patient_filters", __name__)

# Each pickup mode in the words of the patient's pages, and of the pharmacist's.
PICKUP_WORDS = {
    "public": (_l("anyone who shows the code"), _l("Public: anyone presenting the code")),
    "private": (
        _l("only me, in person"),
        _l("Private: the patient in person only (check their identity)"),
    ),
    "authorised": (
        _l("me or a representative I named"),
        _l("Authorised: the patient in person, or a representative they named"),
    ),
}
PICKUP_LABELS = {mode: patient for mode, (patient, _pharmacist) in PICKUP_WORDS.items()}
ROLE_LABELS = {
    "prescriber": _l("prescriber"),
    "pharmacist": _l("pharmacist"),
    "patient": _l("patient"),
    "representative": _l("your representative"),
    "admin": _l("administrator"),
    "operator": _l("operator"),
}
ROLE_BY_WORDS = {words: role for role, words in health_space.ROLE_WORDS.items()}
ACTION_LABELS = {
    "issue": _l("issued %(what)s"),
    "read": _l("opened %(what)s"),
    "list": _l("saw %(what)s in a list"),
    "cancel": _l("cancelled %(what)s"),
    "view_qr": _l("displayed the QR code of %(what)s"),
    "verify": _l("checked the signature of %(what)s"),
    "scan": _l("scanned the QR code of %(what)s"),
    "lookup_by_card": _l("read your card and looked up %(what)s"),
    "dispense": _l("dispensed %(what)s"),
    "reverse": _l("reversed a dispensation of %(what)s"),
    "change_pickup_mode": _l("changed who may collect %(what)s"),
    "grant": _l("named a representative"),
    "revoke": _l("ended a representative's access"),
    "request_renewal": _l("asked for a renewal of %(what)s"),
    "decline_renewal": _l("declined the renewal request for %(what)s"),
    "renew": _l("renewed %(what)s (a new prescription)"),
    "read_dispensations": _l("saw the dispensations of %(what)s"),
    "acknowledge_warnings": _l("signed %(what)s over the warnings it showed them"),
    "prepare": _l("prepared %(what)s for signing in their own software"),
}
ACTION_ON_OBJECT_LABELS = {
    ("lookup_by_card", "representative"): _l(
        "looked up your prescriptions with a representative's card"
    ),
    ("lookup", "person"): _l("looked you up among their patients"),
    ("review_warnings", "person"): _l("checked your allergies and treatments before prescribing"),
    ("record_allergy", "person"): _l("recorded an allergy in your file"),
}
# Where the operator acted from (audit.OPERATOR's organisation), in the page's language.
ORGANISATION_LABELS = {"command line": _l("the service's command line")}
OBJECT_LABELS = {
    "prescription": _l("prescription %(id)s"),
    "dispensation": _l("dispensation %(id)s"),
    "representative": _l("representative %(id)s"),
}
OUTCOME_LABELS = {
    "denied": _l("denied"),
    "not_found": _l("not found"),
    "prescription_cancelled": _l("prescription cancelled"),
    "prescription_expired": _l("prescription expired"),
    "prescription_completed": _l("prescription collected in full"),
    "signature_invalid": _l("signature invalid"),
    "prescription_signature_invalid": _l("signature invalid"),
    "nothing_shown": _l("nothing shown"),
    "identity_not_confirmed": _l("identity not confirmed"),
    "not_representative": _l("not your representative"),
}


def packs(quantity: int) -> str:
    return ngettext("%(num)d pack", "%(num)d packs", quantity)


@bp.app_template_filter("per_supply")
def per_supply(quantity: int) -> str:
    """'2 packs per supply' (each renewal gives the quantity again)."""
    return ngettext("%(num)d pack per supply", "%(num)d packs per supply", quantity)


@bp.app_template_filter("remaining")
def remaining(line: CardLine, renewals: int) -> str:
    """What is left to collect of a line: cancelled, all collected, or how many packs."""
    if line.status == "cancelled":
        return gettext("cancelled")
    if line.remaining_quantity == 0:
        return gettext("all collected")
    if not renewals:
        return ngettext(
            "%(num)d pack to collect", "%(num)d packs to collect", line.remaining_quantity
        )
    return gettext("%(now)s to collect now, %(all)s in all with the renewals") % {
        "now": packs(line.remaining_now),
        "all": packs(line.remaining_quantity),
    }


@bp.app_template_filter("validity")
def validity(p: Card) -> str:
    """'12 days left', 'last day today', 'valid from 3 May 2026', 'expired'."""
    valid_from, valid_until = date.fromisoformat(p.valid_from), date.fromisoformat(p.valid_until)
    today = valid_until - timedelta(days=p.days_left)  # the day the service counted from
    if today < valid_from:
        return gettext("valid from %(day)s", day=day(valid_from))
    if p.days_left < 0:
        return gettext("expired")
    if p.days_left == 0:
        return gettext("last day today")
    return ngettext("%(num)d day left", "%(num)d days left", p.days_left)


@bp.app_template_filter("pickup_label")
def pickup_label(mode: str) -> str:
    return str(PICKUP_LABELS.get(mode, mode))


def role_label(words: str) -> str:
    """The actor's role in the access log (the service gives it in English words)."""
    role = ROLE_BY_WORDS.get(words, words)
    return str(ROLE_LABELS.get(role, words))


@bp.app_template_filter("log_what")
def log_what(entry) -> str:
    """'opened prescription ABCD-EFGH-JKX', 'tried: … (refused: denied)'."""
    action = ACTION_LABELS.get(entry.action)
    if action is None:
        return entry.what
    if (entry.action, entry.object_type) in ACTION_ON_OBJECT_LABELS:
        sentence = str(ACTION_ON_OBJECT_LABELS[entry.action, entry.object_type])
        return _with_outcome(sentence, entry.outcome)
    if entry.object_type == "patient":
        what = gettext("your prescriptions")
    elif entry.object_type == "person":
        what = gettext("your file")
    elif entry.object_type in OBJECT_LABELS:
        what = str(OBJECT_LABELS[entry.object_type]) % {"id": entry.object_id}
    else:
        return entry.what
    return _with_outcome(str(action) % {"what": what}, entry.outcome)


@bp.app_template_filter("organisation_label")
def organisation_label(organisation: str) -> str:
    """A pharmacy's or a practice's name as it is; the operator's place in words."""
    return str(ORGANISATION_LABELS.get(organisation, organisation))


def _with_outcome(sentence: str, outcome: str) -> str:
    """The sentence as it is, or 'tried: … (refused: why)' for a refused attempt."""
    if outcome == health_space.SUCCESS:
        return sentence
    if outcome == health_space.CONFIRMED_BY_PRESCRIBER:
        return gettext("%(what)s (they confirmed you were with them)", what=sentence)
    why = OUTCOME_LABELS.get(outcome, outcome.replace("_", " "))
    return gettext("tried: %(what)s (refused: %(why)s)", what=sentence, why=why)

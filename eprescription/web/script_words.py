"""The words the pages' scripts show, in the page language, handed over in a data- attribute of
the page (the Content-Security-Policy allows no inline script): `{name}` marks a part the
script fills in; `problems` words the refusals a script receives, by their stable code."""

from flask_babel import lazy_gettext as _l

from eprescription.domain import errors

WORDS = {
    # prescriber.js: the NIR as typed, the patient found, the medication search, the quantity
    "nir_shape": _l("An NIR has 15 digits (2A or 2B for Corsica) and starts with 1 or 2."),
    "nir_key": _l("The key should be {expected}, not {typed}: check the number."),
    "nir_length": _l("An NIR has 15 characters, not {count}."),
    "nir_typed": _l("{count} of 15 characters."),
    "nir_hint": _l("15 characters; spaces are ignored."),
    "confirm_patient": _l("The patient is with me: show who this is"),
    "looking_up": _l("Looking up the patient…"),
    "patient_found": _l("Patient: {name}"),
    "patient_found_born": _l("Patient: {name}, born {born}"),
    "nir_refused": _l("This NIR is refused."),
    "lookup_failed": _l("The patient could not be looked up; the review will check the NIR."),
    "units_needed": _l("{units} units needed; set the number of packs yourself."),
    "units_in_packs": _l("{units} units needed: {packs} pack(s) of {size}."),
    "chosen": _l("Chosen: {name} (CIS {cis})."),
    "chosen_packs": _l("Chosen: {name} (CIS {cis}), packs of {size} {unit}(s)."),
    "chosen_substance": _l(
        "Chosen by active substance (DCI): {name}; any pack of it may be dispensed."
    ),
    "substance_option": _l("{name} (active substance, DCI)"),
    "search_failed": _l("The search failed; try again."),
    "found": _l("{shown} of {total} medications found: arrow keys to move, Enter to choose."),
    "nothing_found": _l("No prescribable medication matches."),
    "remove_line": _l("Remove line {number}"),
    # pharmacy.js: the camera scanner
    "qr_read": _l("QR code read: opening the prescription…"),
    "camera_instead": _l("Use the 2D scanner or type the number instead."),
    "camera_not_allowed": _l(
        "The camera is not allowed: permission was refused. Allow it in the browser's site "
        "settings."
    ),
    "camera_missing": _l("No camera was found on this device."),
    "camera_busy": _l("The camera is busy in another application."),
    "camera_failed": _l("The camera could not be started ({name})."),
    "camera_unavailable": _l("This browser cannot use a camera on this page (it needs https)."),
    "camera_starting": _l("Starting the camera…"),
    "camera_point": _l("Point the camera at the QR code."),
    "camera_stopped": _l("Camera stopped."),
}
PROBLEMS = {
    errors.PatientConfirmationRequired.code: _l(
        "You have not prescribed for this NIR before: confirm that the patient is with you "
        "(their card read) to see who it is."
    ),
    errors.NotFound.code: _l(
        "No patient is recorded with this NIR: check it with the patient's card, or have the "
        "patient registered first."
    ),
    errors.InvalidIdentifier.code: _l("This NIR is not valid: check it on the patient's card."),
    errors.TooManyAttempts.code: _l("Too many attempts: wait a few minutes, then try again."),
}


def inject() -> dict:
    """`script_words` for base.html, in the language of this request."""
    words = {name: str(text) for name, text in WORDS.items()}
    return {"script_words": words | {"problems": {c: str(t) for c, t in PROBLEMS.items()}}}

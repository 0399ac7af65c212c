"""Writes docs/errors.md, the catalogue of every problem `code` the service answers, from the code
itself: the DomainError classes (eprescription/domain/errors.py) with their HTTP status
(eprescription.errors.status_for), and the codes eprescription/errors.py gives HTTP errors.

    .venv/bin/python tools/error_catalogue.py          # write docs/errors.md
    .venv/bin/python tools/error_catalogue.py --check  # exit 1 when docs/errors.md is stale

tests/unit/test_error_catalogue.py fails when docs/errors.md disagrees with the code.
"""

import sys
from pathlib import Path

from eprescription import errors as http
from eprescription.domain import errors as domain
from eprescription.domain.errors import error_classes

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "errors.md"

# What the client should do, by code; a code without an entry takes its nearest parent class's.
ADVICE = {
    "error": "Fix the request as `detail` says; sending it again unchanged gives the same answer.",
    "configuration_error": "Nothing on the client's side: the operator must fix the service's "
    "configuration. Report the `instance` and the time.",
    "validation_failed": "Correct the request: `errors` names each field and what is wrong with "
    "it, all at once. Nothing was stored, and an Idempotency-Key sent with it is free again.",
    "database_unavailable": "Retry after the Retry-After seconds; send a write again with the "
    "same Idempotency-Key, so that it is done once even if its COMMIT had gone through.",
    "wrong_pin": "Ask the prescriber for their signing PIN again; the third wrong PIN in a row "
    "blocks the key (`signing_key_blocked`).",
    "idempotency_key_reused": "This key was first used with another body: a new request needs "
    "a new key. To retry the first request, send exactly its body again.",
    "warnings_not_acknowledged": "Show the warnings of POST /api/v1/prescriptions/review to the "
    "prescriber and send their keys in `acknowledged_warnings` with a reason.",
    "external_signature_refused": "The signed prescription was not stored: fix what `detail` "
    "names (prepare again if the content or the time is at fault), sign again and submit.",
    "signer_revocation_unknown": "The operator must load a current CRL of the issuing CA (or "
    "configure OCSP); submit again once done.",
    "signer_ocsp_unavailable": "Submit again in a moment (the OCSP responder may be back); if "
    "it keeps failing, the operator checks the responder or loads a current CRL of the CA.",
    "signer_chain_invalid": "Send the certificate chain the card's CA publishes: the CA named "
    "in `detail` may not issue the certificate below it (basicConstraints, keyUsage).",
    "trust_anchor_refused": "Operator: import the CA certificate or CRL it names in PEM, issued "
    "for prescribers.",
    "json_too_deep": "Send a flatter JSON body: no request of this service nests that deep.",
    "authentication_failed": "Check the username and password; repeated failures are throttled "
    "(`too_many_login_failures`).",
    "too_many_attempts": "Wait the number of seconds in the `Retry-After` header, then try once "
    "more; do not retry in a loop.",
    "authentication_required": "Get a token (POST /api/v1/auth/token) and send it as "
    "`Authorization: Bearer …`; a token that expired needs a new one.",
    "permission_denied": "The calling account may not do this; do not retry with the same account.",
    "no_organisation": "Event subscriptions belong to a practice or a pharmacy: the operator must "
    "record the prescriber's practice (`flask … practices assign`), or call through the "
    "practice's software client.",
    "patient_confirmation_required": "Confirm that the patient is present (the field "
    "`identity_confirmed`) and send again.",
    "pickup_refused": "The patient chose who may collect (the pickup mode): only the patient "
    "or a representative they named may; `detail` says which.",
    "signing_key_blocked": "The prescriber's key is blocked after three wrong PINs: an "
    "administrator must unblock it.",
    "certificate_revoked": "The prescriber's certificate is revoked: an administrator must "
    "enrol a new one.",
    "certificate_expired": "The prescriber's certificate is out of its validity: an "
    "administrator must enrol a new one.",
    "no_signing_credential": "An administrator must enrol the prescriber (a signing key and "
    "certificate) first.",
    "not_found": "Check the identifier. Something that exists but is not the caller's to see "
    "answers the same, on purpose.",
    "conflict": "The current state does not allow this: read the resource again (GET) and show "
    "its state to the user; sending the same request again gives the same answer.",
    "already_exists": "Nothing to do: it exists already. Read it instead of creating it again.",
    "prescription_signature_invalid": "Do not act on this prescription: the stored copy does "
    "not agree with its signature. Report it to the operator.",
    "receipt_signature_invalid": "Do not act on this dispensation: the stored copy does not "
    "agree with its signed receipt. Report it to the operator.",
    "quantity_exceeds_remaining": "Scan the prescription again to see what remains, then "
    "dispense at most that.",
    "idempotency_key_in_progress": "Another call with this key is still being handled: retry "
    "the same request with the same key in a second or two.",
    "prescription_number_taken": "Prepare again (a new number) and sign the new payload.",
    "catalog_file_refused": "Operator: give the BDPM file the command expects.",
    "oauth_request_invalid": "Fix the token request as `error_description` and `detail` say "
    "(RFC 6749 §5.2 `error` says the kind); docs/software-clients.md.",
    "oauth_grant_refused": "Ask the professional for their username and password again; "
    "repeated failures are throttled.",
    "professional_not_of_client": "Only professionals of the software's pharmacy or practice "
    "may log in through it: the operator puts them there (`flask practices assign`).",
    "client_authentication_failed": "Check the client_id and the secret or the key that signs "
    "the client assertion (aud = the token endpoint's URL, exp within 5 minutes, a new jti).",
    "client_revoked": "The operator revoked this software client: ask for a new registration.",
    "client_assertion_replayed": "Sign a new client assertion with a new jti for each request.",
    "insufficient_scope": "Ask for a token with the scope `detail` names (if the client may "
    "have it); the operator sets a client's scopes.",
    "gone": 'Use the address in the `Link` header (`rel="successor-version"`).',
    "precondition_failed": "Read the resource again (scan) and retry with its new `ETag` in "
    "`If-Match`, after checking the change with the user.",
    # The answers of the HTTP layer (eprescription/errors.py) rather than of a use case.
    "bad_request": "Fix the request (malformed JSON, a bad header): `detail` says what.",
    "method_not_allowed": "Use a method the path accepts (`Allow` header; the OpenAPI document "
    "at /api/openapi.json).",
    "not_acceptable": "Accept `application/json` (or the media type the operation documents).",
    "request_too_large": "Send a smaller body; no request of this service needs that much.",
    "unsupported_media_type": "Send the body as `application/json`.",
    "too_many_requests": "Wait the number of seconds in the `Retry-After` header, then retry.",
    "http_error": "Fix the request as `detail` says.",
    "internal_error": "The call was rolled back entirely (nothing of it was stored): retry it, "
    "with the same Idempotency-Key where the operation takes one. Report it if it persists.",
}

HTTP_MEANINGS = {
    "bad_request": "The request could not be read",
    "method_not_allowed": "This path does not take this method",
    "not_acceptable": "No answer in a media type the client accepts",
    "request_too_large": "The request body is too large",
    "unsupported_media_type": "The body is not in a media type this operation reads",
    "too_many_requests": "Too many requests from this client",
    "http_error": "Another HTTP error",
    "internal_error": "Something went wrong on the service's side; it has been logged",
}
INTERNAL_ERROR_STATUS = 500  # the status eprescription.errors gives an unexpected exception
LAST = 1000  # http_error (any other status) sorts after every status


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _meaning(kind: type[domain.DomainError]) -> str:
    own = kind.__dict__.get("__doc__") if kind is not domain.DomainError else None
    meaning = kind.title if kind.title.endswith(".") else f"{kind.title}."
    if own:
        meaning += " " + own.strip().split("\n\n")[0]
    return _cell(meaning)


def _advice(kind: type[domain.DomainError]) -> str:
    for parent in kind.__mro__:
        code = getattr(parent, "code", None)
        if code in ADVICE:
            return _cell(ADVICE[code])
    raise LookupError(kind)  # DomainError's own code has advice, so this never happens


def rows() -> list[tuple[str, int, str, str]]:
    """(code, HTTP status, meaning, what to do), one per code: the use cases' then the HTTP
    layer's, by status then code."""
    by_code: dict[str, tuple[str, int, str, str]] = {}
    for kind in error_classes():
        by_code.setdefault(
            kind.code, (kind.code, http.status_for(kind), _meaning(kind), _advice(kind))
        )
    layer = {code: status for status, code in http.CODE_BY_HTTP_STATUS.items()}
    layer.update(http_error=0, internal_error=INTERNAL_ERROR_STATUS)
    for code, status in layer.items():
        if code not in by_code:
            meaning = _cell(HTTP_MEANINGS[code] + ".")
            by_code[code] = (code, status, meaning, _cell(ADVICE[code]))
    return sorted(by_code.values(), key=lambda row: (row[1] or LAST, row[0]))


def render() -> str:
    lines = [
        "# Error catalogue",
        "",
        "<!-- Generated by tools/error_catalogue.py from eprescription/domain/errors.py and",
        "     eprescription/errors.py; do not edit by hand (tests/unit/test_error_catalogue.py",
        "     fails when this file and the code disagree). -->",
        "",
        "Every refusal of the JSON API is an RFC 9457 problem document",
        "(`application/problem+json`): `type`, `title`, `status`, `detail`, `instance` and a",
        "stable `code`, with `errors` (field → messages) when fields are at fault. Under",
        "`/fhir/r4` the same code is the `details.coding` of an `OperationOutcome`. Software keys",
        "on `code`, never on `title` or `detail` (they are for people and may change). Each code",
        "comes with one HTTP status, always. Retrying a write safely: docs/prescriptions.md,",
        '"Safe retries".',
        "",
        "| code | HTTP | meaning | what the client should do |",
        "|---|---|---|---|",
    ]
    for code, status, meaning, advice in rows():
        lines.append(f"| `{code}` | {status or 'any'} | {meaning} | {advice} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not CATALOGUE.exists() or CATALOGUE.read_text(encoding="utf-8") != text:
            print(f"{CATALOGUE} is stale: run tools/error_catalogue.py", file=sys.stderr)
            return 1
        return 0
    CATALOGUE.write_text(text, encoding="utf-8")
    print(f"wrote {CATALOGUE} ({len(rows())} codes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

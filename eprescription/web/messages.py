"""What the domain and the services say, in the page language: by stable code and parameters."""

from datetime import date

from flask_babel import lazy_gettext as _l

from eprescription.domain import errors
from eprescription.domain.messages import Message
from eprescription.services.signature_views import BINDING
from eprescription.signing import jws
from eprescription.web.formats import day
from eprescription.web.patient_filters import role_label

# The title of each error, by its stable code, in the page language: every DomainError's own
# title (marked N_ in domain/errors.py for `pybabel extract`) but four the pages word for a
# person rather than a program, and the codes errors.py gives HTTP errors and the unexpected
# one; test_translations checks that none is missing.
TITLES = {
    **{kind.code: _l(kind.title) for kind in errors.error_classes()},
    errors.InvalidGs1Code.code: _l("This code is not the code of a medicine box"),
    errors.IdempotencyKeyReused.code: _l("This form was already sent with other values"),
    errors.IdempotencyKeyInProgress.code: _l("This form is still being processed"),
    errors.CertificateAuthorityMissing.code: _l("No certificate authority is set up yet"),
    # HTTP errors (errors.CODE_BY_HTTP_STATUS) and the unexpected one.
    "bad_request": _l("Bad Request"),
    "method_not_allowed": _l("Method Not Allowed"),
    "not_acceptable": _l("This answer format is not available"),
    "request_too_large": _l("The request is too large"),
    "unsupported_media_type": _l("This content type is not accepted"),
    "too_many_requests": _l("Too many attempts"),
    "http_error": _l("The request could not be completed"),
    "internal_error": _l("Internal server error"),
}

# The sentences of the domain and the services, by the code of their Message (domain/messages.py),
# with the same named parameters. A sentence without a code is shown as it is.
MESSAGES = {
    # identifiers (domain/identifiers.py)
    "nir_missing": _l("the NIR is missing"),
    "nir_length": _l("an NIR has 15 characters, not %(count)s"),
    "nir_characters": _l(
        "an NIR has only digits, except 2A or 2B (Corsica) in the 6th and 7th places"
    ),
    "nir_first_digit": _l("an NIR starts with 1 or 2 (or 3, 7, 8), not %(first)s"),
    "nir_key": _l("the NIR's key should be %(expected)s, not %(typed)s"),
    # identifiers, other than the NIR (the administrator's pages)
    "isikukood_missing": _l("the isikukood is missing"),
    "rpps_missing": _l("the RPPS number is missing"),
    "finess_missing": _l("the FINESS number is missing"),
    "isikukood_digits": _l("an isikukood has only digits"),
    "isikukood_length": _l("an isikukood has 11 digits, not %(count)s"),
    "isikukood_birth_date": _l("the isikukood's first 7 digits are not a valid birth date"),
    "isikukood_check_digit": _l(
        "the isikukood's check digit should be %(expected)s, not %(typed)s"
    ),
    "rpps_digits": _l("an RPPS number has only digits"),
    "rpps_leading_8": _l("this looks like a national identifier (8 + RPPS): drop the leading 8"),
    "rpps_length": _l("an RPPS number has 11 digits, not %(count)s"),
    "rpps_check_digit": _l("the RPPS number's check digit should be %(expected)s, not %(typed)s"),
    "finess_length": _l("a FINESS number has 9 characters, not %(count)s"),
    "finess_characters": _l(
        "a FINESS number has only digits, except 2A or 2B (Corsica) at the start"
    ),
    "finess_key": _l("the FINESS number's key should be %(expected)s, not %(typed)s"),
    # prescription numbers (domain/prescription_codes.py)
    "number_missing": _l("The prescription number is missing."),
    "number_length": _l("A prescription number has %(length)s characters, not %(count)s."),
    "number_characters": _l("A prescription number has only digits and the letters %(letters)s."),
    "number_typo": _l("This prescription number has a typo: its check character does not match."),
    # the QR code's text (qr.py)
    "qr_empty": _l("The QR code text is empty: scan it again."),
    "qr_too_long": _l("This text is too long to be a prescription QR code."),
    "qr_version": _l("This QR code version (%(version)s) is not supported."),
    "qr_not_a_prescription": _l("This is not a prescription QR code."),
    "qr_incomplete": _l("This QR code text is incomplete: scan it again."),
    "qr_number_wrong": _l("The QR code's prescription number is wrong: %(problem)s"),
    "qr_access_code": _l("The QR code's access code is incomplete or damaged."),
    # a prescription's lifecycle (domain/prescriptions.py)
    "cancelled": _l("This prescription has been cancelled."),
    "expired": _l("This prescription is past its validity."),
    "completed": _l("Everything on this prescription has been dispensed."),
    "no_such_line": _l("there is no line %(line)s"),
    "line_cancelled": _l("line %(line)s is cancelled already"),
    "line_dispensed": _l("line %(line)s has been (partly) dispensed"),
    "name_a_line": _l("name at least one line, or leave lines out to cancel everything"),
    "reason_for_cancelling": _l("say why it is cancelled"),
    # the prescription form (domain/prescriptions.py, services/prescription_drafts.py)
    "between": _l("between %(low)s and %(high)s"),
    "at_most_characters": _l("at most %(count)s characters"),
    "before_issue_date": _l("cannot be before the issue date"),
    "months_after_issue": _l("at most %(months)s months after the issue date"),
    "before_valid_from": _l("cannot be before the start of validity"),
    "months_after_start": _l("at most %(months)s months after the start of validity"),
    "months_without_renewals": _l(
        "at most %(months)s months after the start of validity without renewals (%(longer)s with)"
    ),
    "product_or_substance": _l("name a product or a substance, not both"),
    "medication_required": _l(
        "choose a medication: a product, or a substance with its strength and form"
    ),
    "cis_digits": _l("a CIS code has 8 digits"),
    "substance_part_required": _l("required when prescribing by active substance"),
    "dosage_required": _l("the dosage instructions are required"),
    "a_number": _l("a number"),
    "dose_range": _l("more than 0 and at most %(max)s"),
    "quantity_required": _l("the quantity (packs) is required"),
    "packs_between": _l("between 1 and %(max)s packs"),
    "reason_only_if_not_substitutable": _l("only for a line that is not substitutable"),
    "reason_required": _l("a non-substitutable line needs a reason: %(reasons)s"),
    "substance_is_substitutable": _l(
        "a line prescribed by active substance is substitutable by nature; choose the product "
        "to forbid substitution"
    ),
    "at_least_one_line": _l("at least one line"),
    "initial_reference_length": _l(
        "the initial prescription's reference and date, 1 to %(max)s characters"
    ),
    "lines_at_most": _l("at most %(max)s lines"),
    "self_prescription": _l(
        "you cannot prescribe for yourself: another prescriber must issue this"
    ),
    "one_of": _l("one of %(choices)s"),
    "no_such_cis": _l("no product has the CIS %(cis)s in the catalog"),
    "not_prescribable": _l("%(name)s is withdrawn or not authorised: it cannot be prescribed"),
    "no_such_substance": _l("no substance has the code %(code)s in the catalog"),
    "no_such_strength": _l(
        "no prescribable product contains %(substance)s at %(strength)s as %(form)s"
    ),
    # external signing (services/external_signing.py)
    "x5c_unreadable": _l("1 to %(count)s certificates, each base64 DER (RFC 7515 §4.1.6)"),
    "no_such_patient": _l(
        "no patient is recorded with this national identifier; check it with the patient's "
        "card, or have the patient registered first"
    ),
    # the counter (domain/dispensing.py, services/dispensing.py, counter_access.py)
    "dispensable_from": _l("This prescription can be dispensed from %(day)s."),
    "dispense_a_line": _l("dispense at least one line"),
    "line_quantity_at_least_one": _l("line %(line)s: the quantity is at least 1 pack"),
    "line_is_cancelled": _l("line %(line)s is cancelled"),
    "more_than_left": _l(
        "line %(line)s: %(asked)s asked, %(left)s left in period %(period)s of %(periods)s"
    ),
    "by_substance": _l(
        "prescribed by active substance: any pack with this substance, strength and form"
    ),
    "not_substitutable": _l("not substitutable (%(reason)s): give this product"),
    "substitutable": _l("substitutable within the product's generic group"),
    "not_the_substance": _l(
        "this pack does not contain the prescribed substance at %(strength)s as %(form)s"
    ),
    "only_the_product": _l(
        "the line is not substitutable (%(reason)s): only the prescribed product"
    ),
    "not_in_group": _l("this code does not match a box of this medicine (nor of its generics)"),
    # the box's code, read at the counter (domain/gs1.py, services/dispensed_packs.py)
    "pack_code_empty": _l("Scan the box's DataMatrix or type its CIP13."),
    "pack_code_unreadable": _l(
        "This code is not the code of a medicine box: scan the box's DataMatrix again or "
        "type its CIP13."
    ),
    "pack_code_not_a_medicine": _l(
        "This code is not a French medicine box's code (its CIP13 starts with 3400)."
    ),
    "pack_code_no_product": _l(
        "This code does not say which medicine is in the box: scan the DataMatrix, not "
        "another code."
    ),
    "pack_code_bad_expiry": _l(
        "The expiry date in the box's code is not a date: type the expiry printed on the box."
    ),
    "pack_code_bad_batch": _l(
        "The batch in the box's code cannot be read: type the batch printed on the box."
    ),
    # the administrator's pages (services/administration.py)
    "admin_only": _l("Only an administrator may do this."),
    "no_such_account": _l("No account has this username."),
    "not_yourself": _l("Another administrator must do this to your account."),
    # creating accounts and pharmacies (services/accounts.py, services/registration.py)
    "exist_already": _l("These exist already: %(fields)s"),
    "username_rule": _l("3 to 64 characters: letters, digits, and . _ @ -"),
    "password_length": _l("at least %(count)s characters"),
    "username_taken": _l("this username is taken"),
    "person_has_role": _l("this person has a %(role)s account already"),
    "rpps_taken": _l("another prescriber has this RPPS number"),
    "no_such_pharmacy": _l("no pharmacy has the FINESS number %(finess)s"),
    "pharmacy_name_missing": _l("the pharmacy's name is missing"),
    "already_recorded": _l("already recorded"),
    "name_missing": _l("this name is missing"),
    "birth_date_missing": _l("the birth date is missing"),
    "birth_date_future": _l("the birth date is in the future"),
    "birth_date_disagrees": _l("the birth date does not agree with the national identifier"),
    "person_differs": _l("recorded already for a person with another name or birth date"),
    "entries_differ": _l("the two entries differ"),
    "a_date": _l("a date: YYYY-MM-DD"),
    "pack_differs": _l("differs from the box's scanned code"),
    "batch_required": _l("the batch number is required"),
    "expiry_required": _l("the box's expiry date is required"),
    "no_such_pack": _l("no box has the CIP13 %(cip13)s in the catalog"),
    "pack_expired": _l("this pack expired on %(day)s"),
    "card_patient_only": _l(
        "it is opened by card for the patient in person only (confirm their identity)"
    ),
    "card_patient_or_representative": _l(
        "it is opened by card for the patient or a representative they authorised, identity "
        "confirmed"
    ),
    "collector_unidentified": _l(
        "someone other than the patient collects it: give their name or national id"
    ),
    "presenter_collects": _l(
        "the person at the counter collects it: their NIR, as read from their card"
    ),
    "private_in_person": _l(
        "a private prescription is collected by the patient in person (confirm identity)"
    ),
    "authorised_collectors": _l(
        "collected by the patient in person or a representative they authorised"
    ),
    "not_authorised_representative": _l(
        "this person is not a representative authorised by the patient"
    ),
    "nothing_dispensed": _l("Nothing was dispensed: %(problem)s."),
    "pickup_refused": _l("This prescription is %(mode)s: %(problem)s."),
    # reversing a dispensation (domain/dispensing.py, services/dispensation_reversal.py)
    "reversed_already": _l("This dispensation was reversed already."),
    "reversal_window": _l("A dispensation can be reversed within %(hours)s hours only."),
    "reason_for_reversing": _l("Say why it is reversed."),
    "characters_range": _l("1 to %(max)s characters"),
    # the rules of prescribing and dispensing (domain/prescribing_rules.py, dispensing_periods.py)
    "rule_restricted_use": _l(
        "«%(source)s»: not dispensed by community pharmacies, so it cannot be prescribed here"
    ),
    "rule_duration_not_judged": _l(
        "no duration in days was given, so «%(source)s» could not be checked"
    ),
    "rule_narcotic_renewal": _l("a narcotic (stupéfiant) cannot be renewed (source: %(source)s)"),
    "rule_duration_over_limit": _l(
        "%(days)s days of treatment, at most %(limit)s (source: %(source)s)"
    ),
    "rule_list_i_renewal": _l(
        "a liste I medicine is renewed only when the prescriber says so expressly (source: "
        "%(source)s)"
    ),
    "rule_hospital_prescriber": _l(
        "«%(source)s»: only a prescriber practising in hospital may prescribe it"
    ),
    "rule_initial_hospital": _l(
        "«%(source)s»: prescribe it from hospital, or renew it giving the reference of the "
        "initial hospital prescription"
    ),
    "rule_specialist_not_judged": _l(
        "«%(source)s»: the BDPM does not say which specialists, so it was not checked"
    ),
    "rule_specialist": _l("reserved to these specialists: %(specialties)s (source: BDPM)"),
    "rule_renewal_specialist": _l(
        "its renewal is reserved to these specialists: %(specialties)s (source: BDPM); renew it "
        "without the initial prescription's reference only where you may write the initial one"
    ),
    "rule_one_month": _l(
        "a liste I or II medicine is given one month at a time (source: %(source)s)"
    ),
    "rule_fractioned": _l("given %(days)s days at a time (source: BDPM «%(source)s»)"),
    "rule_narcotic_late": _l(
        "presented %(late)s days after it was written: only the %(left)s days of treatment left "
        "are given (source: %(source)s)"
    ),
    "rule_period_opens": _l(
        "line %(line)s: period %(period)s opens on %(opens)s; nothing was dispensed"
    ),
    "rule_cap_exceeded": _l(
        "line %(line)s: %(asked)s asked, at most %(allowed)s today: %(rule)s; nothing was dispensed"
    ),
    "rule_fractioned_by_prescriber": _l(
        "given %(days)s days at a time, as the prescriber wrote (source: %(source)s)"
    ),
    "rule_fractionation_narcotic": _l(
        "only a narcotic (stupéfiant) is given fractioned as the prescriber writes (source: "
        "%(source)s)"
    ),
    "rule_overlap": _l(
        "line %(line)s: the same substance, given from another prescription, covers the "
        "treatment until %(until)s; without the prescriber's express mention «chevauchement "
        "autorisé» it is not given before (source: %(source)s); nothing was dispensed"
    ),
    # accounts, login and throttling
    "wrong_credentials": _l("Wrong username or password."),
    "account_disabled": _l("This account is disabled; ask an administrator."),
    "login_locked": _l("Too many wrong passwords for this username: try again in %(minutes)s min."),
    "too_many_attempts": _l("Too many attempts from here: try again in %(minutes)s min."),
    "role_required": _l("This page is for the role %(role)s."),
    # who may see what (services/access.py)
    "not_visible": _l("No prescription with this number is visible to you."),
    "only_patient_changes_pickup": _l(
        "Only the patient can change how a prescription is collected."
    ),
    # the health space's representatives
    "no_such_person": _l(
        "no person with this national identifier and this family name is recorded; check "
        "both on their card (the person needs to be registered with the service)"
    ),
    "family_name_required": _l("the family name is required, as on their card"),
    "own_national_id": _l("this is your own national identifier: name another person"),
    "end_date_past": _l("the end date is in the past"),
    "already_representative": _l("already your representative"),
    "no_such_representative": _l("You named no such representative."),
    "parent_by_administrator": _l(
        "A parent's access was recorded by an administrator: ask them to end it."
    ),
    "choose_pickup_mode": _l("Choose how it may be collected."),
    # signing (services/pki.py)
    "pin_rule": _l("the PIN is 4 to 8 digits"),
    "wrong_pin": _l("Wrong PIN: %(left)s tries left before your key is blocked."),
    "wrong_pin_last_try": _l("Wrong PIN: 1 try left before your key is blocked."),
    "signing_key_blocked": _l(
        "%(attempts)s wrong PINs in a row: your signing key is blocked until an administrator "
        "unblocks it."
    ),
    "no_signing_key": _l("You have no signing key yet: ask an administrator."),
    "certificate_revoked_on": _l("Your signing certificate was revoked on %(day)s."),
    "certificate_validity": _l("Your signing certificate is valid from %(start)s to %(end)s."),
    # the counter
    "no_signed_reversal": _l("This dispensation has no signed reversal."),
    # marshmallow's refusals, coded (schemas/coded.py), and the pharmacy API's schemas
    "field_required": _l("required"),
    "field_null": _l("required"),
    "field_invalid": _l("not a valid value"),
    "not_a_string": _l("not a valid text"),
    "not_utf8": _l("not a valid text"),
    "not_a_number": _l("not a valid number"),
    "number_too_large": _l("too large a number"),
    "not_an_integer": _l("a whole number"),
    "not_a_boolean": _l("yes or no"),
    "not_a_date": _l("a date: YYYY-MM-DD"),
    "not_a_list": _l("not a valid list"),
    "not_an_object": _l("not a valid group of fields"),
    "unknown_field": _l("not a field of this form"),
    "invalid_input_type": _l("not a valid form"),
    "length_at_least": _l("at least %(min)s characters"),
    "length_at_most": _l("at most %(max)s characters"),
    "length_between": _l("%(min)s to %(max)s characters"),
    "length_equal": _l("exactly %(equal)s characters"),
    "at_least": _l("at least %(min)s"),
    "at_most": _l("at most %(max)s"),
    "between_inclusive": _l("from %(min)s to %(max)s"),
    "must_be_one_of": _l("one of: %(choices)s"),
    "scan_not_both": _l("scan the QR code, or type the number with the NIR, not both"),
    "presenter_with_manual_entry": _l(
        "the representative's NIR goes with the number and the patient's NIR"
    ),
    "nir_with_number": _l("the patient's NIR goes with the number"),
    "number_with_nir": _l("the prescription number goes with the patient's NIR"),
    "scan_one_way": _l("scan the QR code, or type the number with the patient's NIR"),
    "cip13_or_gs1": _l("give the pack: its CIP13, or scan the box's DataMatrix"),
    "cip13_digits": _l("a CIP13 has 13 digits"),
    "expiry_format": _l("a date: MM/YYYY as on the box, or YYYY-MM-DD"),
    "presenter_nir_required": _l("a representative at the counter: their NIR, from their own card"),
    # signed documents
    "signature_unverified": _l(
        "This prescription cannot be verified against its signature, so nothing can be "
        "collected with it: %(reasons)s."
    ),
    # a signature check that failed (signing/jws.py)
    "jws_malformed": _l("not a valid compact JWS: %(error)s"),
    "jws_not_checked": _l("not checked: the JWS could not be read"),
    "signer_not_p256": _l("the signer's certificate does not hold a P-256 key (ES256)"),
    "signer_rsa_too_small": _l(
        "the signer's certificate holds no RSA key of %(bits)s bits (%(alg)s)"
    ),
    "signature_mismatch": _l("the %(alg)s signature does not match the header and payload"),
    "not_signing_certificate": _l("the signer's certificate is not a signing certificate"),
    "untrusted_chain": _l("the certificate does not chain to a trusted CA"),
    "signing_time_future": _l("the signing time %(when)s is in the future"),
    "certificate_not_valid_then": _l(
        "%(name)s's certificate was not valid on %(when)s (valid from %(start)s to %(end)s)"
    ),
    "revoked_key_compromise": _l(
        "revoked on %(when)s for key compromise (%(reason)s): no signature by this key is trusted"
    ),
    "revoked_before_signing": _l("revoked on %(when)s (%(reason)s), before the signing time"),
    # which stored value disagrees with the signed documents (domain/signed_prescription.py)
    "status_differs": _l(
        "the status is %(here)s here, but the signed documents make it %(signed)s"
    ),
    "value_differs": _l("%(field)s is %(here)s here, %(signed)s in the signed prescription"),
    "line_value_differs": _l(
        "line %(line)s: %(field)s is %(here)s here, %(signed)s in the signed prescription"
    ),
    "lines_differ": _l("the lines are %(here)s here, %(signed)s in the signed prescription"),
    "line_dispensed_differs": _l(
        "line %(line)s: %(here)s dispensed here, %(signed)s in the signed receipts"
    ),
    "cancellation_problems": _l("cancellation of %(when)s: %(problems)s"),
    "cancelled_unsigned": _l("line %(line)s is marked cancelled without a signed cancellation"),
    "cancels_other_lines": _l("it cancels lines %(signed)s, %(here)s here"),
    "receipt_problems": _l("receipt %(id)s: %(problems)s"),
    "receipt_value_differs": _l("%(field)s is %(here)s here, %(signed)s in the receipt"),
    "pack_value_differs": _l(
        "pack %(index)s: %(field)s is %(here)s here, %(signed)s in the signed receipt"
    ),
    "pack_count_differs": _l("%(here)s packs here, %(signed)s in the signed receipt"),
    "reversal_problems": _l("its reversal: %(problems)s"),
    "pickup_choice_problems": _l("the patient's pickup choice: %(problems)s"),
    "pickup_choice_differs": _l(
        "pickup mode is %(here)s here, %(signed)s in the patient's signed choice"
    ),
    "pickup_mode_differs": _l(
        "pickup mode is %(here)s here, %(signed)s in the signed prescription"
    ),
    "not_a_cancellation": _l("it is not a cancellation"),
    "not_by_prescriber": _l("it is not signed by this prescription's prescriber"),
    "reason_differs": _l("its reason differs from the stored one"),
    "not_our_document": _l("it is not a document as this service signs them"),
    "about_another_prescription": _l("it is about another prescription"),
    "not_by_service": _l("it is not signed by the service"),
    "receipt_of_another": _l("it is the receipt of another dispensation"),
    "time_differs": _l("its time differs from the stored one"),
    "collector_differs": _l("who collected it differs from the stored one"),
    "reversal_unmarked": _l("a signed reversal is stored but it is not marked reversed"),
    "reversal_unsigned": _l("it is marked reversed without a signed reversal"),
    "reversal_not_by_service": _l("its reversal is not signed by the service"),
    "reversal_of_another": _l("its reversal undoes another receipt"),
    "reversal_differs": _l("its reversal's time or reason differs from the stored one"),
    "reversal_quantities_differ": _l(
        "its reversal gives back other quantities than the receipt gave"
    ),
    # why a prescription cannot be verified (domain/signed_prescription.py)
    "cannot_be_verified": _l("it cannot be verified"),
    "signed_not_ours": _l("the signed content is not a prescription as this service signs them"),
    "signed_other_number": _l("the signature is that of another prescription (its number differs)"),
    "signed_other_patient": _l(
        "the signed patient is not the patient this prescription is stored for"
    ),
    "signed_other_prescriber": _l(
        "the signed prescriber is not the prescriber this prescription names"
    ),
    "signed_other_certificate": _l(
        "it is not signed with the certificate of the prescriber it names"
    ),
    "receipt_unverified": _l(
        "This dispensation's receipt cannot be verified against its signature, so it is not "
        "shown and cannot be reversed: %(problems)s."
    ),
    # the access log's actors
    "service_operator": _l("Service operator"),
    "unknown_account": _l("unknown account"),
    # HTTP errors and the unexpected one (errors.py)
    # werkzeug's sentences (errors.py: Message(f"http_{status}"))
    "http_400": _l("The request could not be understood; go back and try again."),
    "http_401": _l("Log in first."),
    "http_403": _l("You are not allowed to see this page."),
    "http_409": _l("This conflicts with the current state; reload the page."),
    "http_410": _l("This address is no longer served."),
    "http_412": _l("This changed since you read it; reload the page."),
    "http_422": _l("Some fields are not valid."),
    "http_404": _l(
        "The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again."
    ),
    "http_405": _l("This page cannot be used this way; go back and try again."),
    "http_406": _l("This answer format is not available."),
    "http_413": _l("What was sent is too large."),
    "http_415": _l("This content type is not accepted."),
    "http_429": _l("Too many attempts: wait a few minutes, then try again."),
    "fields_not_valid": _l("Some fields are not valid: %(fields)s"),
    "internal_error": _l("Something went wrong on our side; it has been logged."),
    # the review's warnings (services/issue_review.py)
    "warning_allergy": _l("Line %(line)s: the patient is recorded as allergic to %(substances)s."),
    "warning_duplicate_therapy": _l(
        "Line %(line)s: %(substances)s already prescribed for this patient in an active"
        " prescription (since %(since)s): %(prescribed)s."
    ),
    "warning_duplicate_line": _l(
        "Line %(line)s: %(substances)s also on line %(other)s of this prescription."
    ),
    "warning_not_acknowledged": _l(
        "Tick each warning you have checked, or give a reason, before signing."
    ),
    # Software clients and practices (docs/software-clients.md).
    "between_characters": _l("1 to %(count)s characters"),
    "client_rate_limited": _l("Too many calls from this software: try again in %(seconds)s s."),
    "client_uses_key": _l("This client authenticates with its key, not a secret."),
    "finess_or_siret": _l("a FINESS (9 digits) or SIRET (14 digits) number"),
    "no_such_practice": _l("no practice has the id %(id)s"),
    "one_or_more_of": _l("one or more of %(choices)s"),
    "pharmacy_or_practice": _l("one pharmacy (FINESS) or one practice, not both"),
    "public_key_kind": _l("a P-256 key (ES256) or an RSA key of %(bits)s bits (PS256)"),
    "public_key_unreadable": _l("not a PEM public key"),
}


# Each check of a signature report (signing/jws.py), as the pharmacist reads it.
CHECKS = {
    jws.SIGNATURE: _l("Signature of the document (JWS)"),
    jws.CHAIN: _l("Certificate issued by a trusted authority"),
    jws.VALIDITY: _l("Certificate valid at the signing time"),
    jws.REVOCATION: _l("Certificate not revoked"),
    jws.PAYLOAD: _l("Signed content"),
    BINDING: _l("The stored prescription agrees with its signed documents"),
}


def check_label(name: str) -> str:
    """A signature check's name in the page language."""
    return str(CHECKS.get(name, name))


def message(text: object) -> str:
    """A sentence of the domain or a service in the page language, by its code (as it is when
    it has none, or its code is not in the table)."""
    if not isinstance(text, Message) or text.code not in MESSAGES:
        return "" if text is None else str(text)
    words = {name: _worded(name, value) for name, value in text.params.items()}
    return str(MESSAGES[text.code]) % words


# A prescription's pickup mode as a parameter ("This prescription is %(mode)s: …").
PICKUP_MODES = {
    "public": _l("public"),
    "private": _l("private"),
    "authorised": _l("authorised"),
}


# The stored fields a tampered row can disagree on (domain/signed_prescription.py), in words.
FIELD_WORDS = dict(
    (
        ("issued_at", _l("issued at")),
        ("valid_from", _l("valid from")),
        ("valid_until", _l("valid until")),
        ("renewals", _l("renewals")),
        ("the total", _l("the total")),
        ("cis", _l("cis")),
        ("substance code", _l("substance code")),
        ("strength", _l("strength")),
        ("form", _l("form")),
        ("medication name", _l("medication name")),
        ("dosage text", _l("dosage text")),
        ("dose", _l("dose")),
        ("dose unit", _l("dose unit")),
        ("frequency per day", _l("frequency per day")),
        ("duration days", _l("duration days")),
        ("quantity", _l("quantity")),
        ("substitutable", _l("substitutable")),
        ("non substitution reason", _l("non substitution reason")),
        ("ald", _l("ald")),
        ("line", _l("line")),
        ("period", _l("period")),
        ("cip13", _l("cip13")),
        ("substituted", _l("substituted")),
        ("batch", _l("batch")),
        ("expiry", _l("expiry")),
        ("serial", _l("serial")),
        ("unit price cents", _l("unit price cents")),
        ("total cents", _l("total cents")),
        ("reimbursement rate", _l("reimbursement rate")),
        ("covered cents", _l("covered cents")),
        ("patient share cents", _l("patient share cents")),
    )
)


def _worded(name: str, value: object) -> object:
    """A parameter in the page language too: a sentence by its own code, a day in words, a
    role by its label, a pickup mode."""
    if isinstance(value, Message):
        return message(value)
    if isinstance(value, tuple):  # reasons, each by its code: joined as the English joins them
        return "; ".join(message(item) for item in value)
    if isinstance(value, date):
        return day(value)
    if name == "field" and isinstance(value, str):
        return str(FIELD_WORDS.get(value, value))
    if name == "role" and isinstance(value, str):
        return role_label(value)
    if name == "mode" and isinstance(value, str):
        return str(PICKUP_MODES.get(value, value))
    return value


def error_title(code: str) -> str:
    """The title of an error in the page language, by its stable code."""
    return str(TITLES.get(code, TITLES[errors.DomainError.code]))

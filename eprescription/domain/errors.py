"""Typed domain errors; each carries a stable code, none knows about HTTP."""


def N_(title: str) -> str:
    """Marks a title for `pybabel extract`: web/messages.py words it in the page language."""
    return title


class DomainError(Exception):
    """Base of every refusal the service explains to its caller."""

    code = "error"
    title = N_("The request could not be completed")

    def __init__(self, detail: str | None = None, *, errors: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or {}


class ConfigurationError(DomainError):
    code = "configuration_error"
    title = N_("The service is not configured correctly")


class ValidationFailed(DomainError):
    code = "validation_failed"
    title = N_("Some fields are not valid")


class InvalidIdentifier(ValidationFailed):
    code = "invalid_identifier"
    title = N_("The identifier is not valid")


class InvalidCharacters(ValidationFailed):
    """A field holds what no text field may: a NUL character, or bytes that are not UTF-8."""

    code = "invalid_characters"
    title = N_("Some fields hold characters that are not allowed")


class JsonTooDeep(DomainError):
    """Refused before parsing: deeper than any request of this service."""

    code = "json_too_deep"
    title = N_("The JSON body is nested too deeply")


class AuthenticationFailed(DomainError):
    code = "authentication_failed"
    title = N_("Wrong username or password")


class TooManyAttempts(DomainError):
    """Refused before anything is looked at: too many guesses from this client or at this
    target; `retry_after` says in how many seconds to try again."""

    code = "too_many_attempts"
    title = N_("Too many attempts")

    def __init__(self, detail: str | None = None, *, retry_after: int, errors: dict | None = None):
        super().__init__(detail, errors=errors)
        self.retry_after = max(1, retry_after)


class DatabaseUnavailable(DomainError):
    """The database connection was lost during the call (the server restarted, a failover):
    nothing of the call is committed unless its COMMIT was under way; try again after
    `retry_after` seconds (a write with the same Idempotency-Key, so it is done once)."""

    code = "database_unavailable"
    title = N_("The database connection was lost: try again")
    retry_after = 1


class TooManyLoginFailures(TooManyAttempts, AuthenticationFailed):
    code = "too_many_login_failures"
    title = N_("Too many wrong passwords")


class AuthenticationRequired(DomainError):
    code = "authentication_required"
    title = N_("You must log in first")


class PermissionDenied(DomainError):
    code = "permission_denied"
    title = N_("You are not allowed to do this")


class PatientConfirmationRequired(PermissionDenied):
    """A prescriber asked who holds a NIR they never prescribed for: the same answer whether
    anyone does or not, until they confirm the patient is with them."""

    code = "patient_confirmation_required"
    title = N_("Confirm that the patient is with you")


class NotFound(DomainError):
    code = "not_found"
    title = N_("Not found")


class Conflict(DomainError):
    code = "conflict"
    title = N_("This conflicts with the current state")


class AlreadyExists(Conflict):
    code = "already_exists"
    title = N_("This already exists")


class CatalogFileRefused(DomainError):
    code = "catalog_file_refused"
    title = N_("This is not a BDPM file")


# Prescriptions (issue 3): refusals of a prescription's lifecycle and identity.


class InvalidPrescriptionNumber(ValidationFailed):
    code = "invalid_prescription_number"
    title = N_("The prescription number is not valid")


class InvalidQrCode(ValidationFailed):
    code = "invalid_qr_code"
    title = N_("This is not a prescription QR code")


class SelfPrescriptionRefused(ValidationFailed):
    code = "self_prescription_refused"
    title = N_("A prescriber cannot issue a prescription for themselves")


class PrescriptionConflict(Conflict):
    """A prescription is not in a state that allows this action."""

    code = "prescription_state_conflict"
    title = N_("The prescription's state does not allow this")


class PrescriptionCancelled(PrescriptionConflict):
    code = "prescription_cancelled"
    title = N_("The prescription is cancelled")


class PrescriptionExpired(PrescriptionConflict):
    code = "prescription_expired"
    title = N_("The prescription has expired")


class PrescriptionCompleted(PrescriptionConflict):
    code = "prescription_completed"
    title = N_("The prescription has been dispensed completely")


class PrescriptionNotCancellable(PrescriptionConflict):
    code = "prescription_not_cancellable"
    title = N_("Nothing of this can be cancelled")


class IllegalTransition(PrescriptionConflict):
    code = "illegal_transition"
    title = N_("The prescription cannot move to this state")


# Signing and the prescriber PKI (eprescription.services.pki).


class WrongPin(ValidationFailed):
    code = "wrong_pin"
    title = N_("Wrong signing PIN")


class SigningKeyBlocked(PermissionDenied):
    code = "signing_key_blocked"
    title = N_("The signing key is blocked after three wrong PINs")


class CertificateRevoked(PermissionDenied):
    code = "certificate_revoked"
    title = N_("The signing certificate is revoked")


class CertificateExpired(PermissionDenied):
    code = "certificate_expired"
    title = N_("The signing certificate is expired or not yet valid")


class NoSigningCredential(PermissionDenied):
    code = "no_signing_credential"
    title = N_("This prescriber has no signing key yet")


class CertificateAuthorityMissing(Conflict):
    code = "certificate_authority_missing"
    title = N_("No certificate authority: run `flask pki init` first")


class Gone(DomainError):
    """An address that is served no more; `successor` names the one to use instead."""

    code = "gone"
    title = N_("This address is no longer served")

    def __init__(self, detail: str, *, successor: str) -> None:
        super().__init__(detail)
        self.successor = successor


class PreconditionFailed(DomainError):
    """The caller acted on a stale view (If-Match names an older version)."""

    code = "precondition_failed"
    title = N_("The resource changed since you read it")


# Dispensing (issue 4): redeeming a prescription at a pharmacy.


class PrescriptionNotFound(NotFound):
    """An unknown number and a known number with a wrong access code get this same answer."""

    code = "prescription_not_found"
    title = N_("No prescription matches this code")


class SignatureInvalid(Conflict):
    """The stored prescription does not agree with its signed documents (docs/signing.md)."""

    code = "prescription_signature_invalid"
    title = N_("The prescription cannot be verified against its signature")


class PrescriptionNotYetValid(PrescriptionConflict):
    code = "prescription_not_yet_valid"
    title = N_("The prescription is not valid yet")


class QuantityExceeded(Conflict):
    code = "quantity_exceeds_remaining"
    title = N_("More than what remains to be dispensed")


class SubstitutionRefused(ValidationFailed):
    code = "substitution_refused"
    title = N_("This presentation cannot be given for this line")


class ProductExpired(ValidationFailed):
    code = "product_expired"
    title = N_("The pack is past its expiry date")


class InvalidGs1Code(ValidationFailed):
    code = "invalid_gs1_code"
    title = N_("This is not a readable GS1 DataMatrix of a medicine pack")


class PickupRefused(PermissionDenied):
    code = "pickup_refused"
    title = N_("The prescription's pickup mode does not allow this")


class VersionMismatch(PreconditionFailed):
    code = "prescription_version_mismatch"
    title = N_("The prescription changed since you read it")


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    title = N_("This Idempotency-Key was used for a different request")


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    title = N_("A request with this Idempotency-Key is still running")


class ReversalRefused(Conflict):
    code = "reversal_refused"
    title = N_("This dispensation cannot be reversed")


class ReceiptSignatureInvalid(Conflict):
    """A stored dispensation does not agree with its signed receipt (docs/signing.md)."""

    code = "receipt_signature_invalid"
    title = N_("The receipt cannot be verified against its signature")


class OtherPharmacy(PermissionDenied):
    code = "dispensation_of_another_pharmacy"
    title = N_("Only the pharmacy that dispensed can reverse")


# The patient's health space (issue 5).


class DuplicateRepresentative(AlreadyExists):
    code = "representative_exists"
    title = N_("This person is a representative already")


# Renewal requests (issue 5, eprescription.domain.renewals).


class RenewalNotAllowed(Conflict):
    code = "renewal_not_allowed"
    title = N_("This prescription cannot be renewed on request")


class PrescriptionAlreadyRenewed(Conflict):
    code = "prescription_already_renewed"
    title = N_("This prescription was renewed already")


class RenewalRequestPending(AlreadyExists):
    code = "renewal_request_pending"
    title = N_("A renewal request for this prescription is waiting already")


class RenewalRequestClosed(Conflict):
    """The request is no longer pending: renewed, declined or lapsed."""

    code = "renewal_request_closed"
    title = N_("This renewal request is no longer waiting")


class RenewalRequestRenewed(RenewalRequestClosed):
    code = "renewal_request_renewed"
    title = N_("This renewal request has been renewed")


class RenewalRequestDeclined(RenewalRequestClosed):
    code = "renewal_request_declined"
    title = N_("This renewal request has been declined")


class RenewalRequestExpired(RenewalRequestClosed):
    code = "renewal_request_expired"
    title = N_("This renewal request lapsed after 8 days")


# The rules of French prescribing and dispensing (issue 12, docs/rules.md).


class WarningsNotAcknowledged(ValidationFailed):
    """Signing with a duplicate-therapy or allergy warning open: each must be ticked, or a
    reason given (docs/prescriber-pages.md, "Warnings before signing")."""

    code = "warnings_not_acknowledged"
    title = N_("Acknowledge the warnings before signing")


class PrescribingRuleRefused(ValidationFailed):
    """A line breaks a rule of its product's conditions (CIS_CPD) or of the Code de la santé
    publique; each field's message names the rule and its source."""

    code = "prescribing_rule_refused"
    title = N_("A prescribing rule refuses this prescription")


class DispensingRuleRefused(Conflict):
    """A dispensation goes beyond what a dispensing rule allows today (nothing was given)."""

    code = "dispensing_rule_refused"
    title = N_("A dispensing rule refuses this dispensation")


class RenewalPeriodNotOpen(DispensingRuleRefused):
    """The next renewal period of a line opens on a later day."""

    code = "renewal_period_not_open"
    title = N_("The next renewal period is not open yet")


# External signing (issue 13 item 1, docs/signing.md "External signing"): a prescription the
# prescriber's own software signed, refused before anything is stored.


class ExternalSignatureRefused(ValidationFailed):
    code = "external_signature_refused"
    title = N_("The prescriber's signature is refused")


class ExternalSignatureMalformed(ExternalSignatureRefused):
    code = "external_signature_malformed"
    title = N_("This is not a compact JWS with an x5c certificate chain")


class ExternalSignatureMismatch(ExternalSignatureRefused):
    code = "external_signature_mismatch"
    title = N_("The signature does not match the signed content and its certificate")


class SignerCertificateUntrusted(ExternalSignatureRefused):
    code = "signer_certificate_untrusted"
    title = N_("The signing certificate is not issued by a CA trusted for prescribers")


class SignerCertificateExpired(ExternalSignatureRefused):
    code = "signer_certificate_expired"
    title = N_("The signing certificate had expired at the signing time")


class SignerCertificateNotYetValid(ExternalSignatureRefused):
    code = "signer_certificate_not_yet_valid"
    title = N_("The signing certificate was not yet valid at the signing time")


class SignerCertificateRevoked(ExternalSignatureRefused):
    code = "signer_certificate_revoked"
    title = N_("The signing certificate is revoked")


class SignerRevocationUnknown(ExternalSignatureRefused):
    """No current CRL of the issuing CA is loaded (none, or past its nextUpdate) and no OCSP
    responder is set for it."""

    code = "signer_revocation_unknown"
    title = N_("Whether the signing certificate is revoked cannot be told")


class SignerOcspUnavailable(SignerRevocationUnknown):
    """The OCSP responder set for the issuing CA could not tell (unreachable, slow, a response
    unsigned, stale or "unknown"), and no current CRL of that CA could either."""

    code = "signer_ocsp_unavailable"
    title = N_("The OCSP responder could not tell whether the signing certificate is revoked")


class SignerChainInvalid(ExternalSignatureRefused):
    """A CA of the path may not issue what it issued (basicConstraints, pathLenConstraint,
    keyUsage keyCertSign)."""

    code = "signer_chain_invalid"
    title = N_("A CA in the signing certificate's chain may not issue the certificate below it")


class SignerKeyUsageRefused(ExternalSignatureRefused):
    code = "signer_key_usage_refused"
    title = N_("The signing certificate is not for signatures")


class SignerRppsMismatch(ExternalSignatureRefused):
    code = "signer_rpps_mismatch"
    title = N_("The signing certificate is not the calling prescriber's")


class SignedPayloadMismatch(ExternalSignatureRefused):
    code = "signed_payload_mismatch"
    title = N_("The signed content is not what prepare gives for this prescription")


class SigningTimeOutOfWindow(ExternalSignatureRefused):
    code = "signing_time_out_of_window"
    title = N_("The signing time is too far from now")


class PrescriptionNumberTaken(Conflict):
    code = "prescription_number_taken"
    title = N_("This prescription number is taken: prepare again")


class TrustAnchorRefused(ValidationFailed):
    code = "trust_anchor_refused"
    title = N_("This CA certificate or CRL cannot be trusted for prescribers")


# Software clients and OAuth 2.0 (issue 13 item 3, docs/software-clients.md): each refusal of
# the token endpoint also names its RFC 6749 §5.2 `error` (oauth_error).


class OAuthRefused(DomainError):
    code = "oauth_request_invalid"
    title = N_("The token request is not valid")
    oauth_error = "invalid_request"


class OAuthGrantTypeUnsupported(OAuthRefused):
    code = "oauth_grant_type_unsupported"
    title = N_("This grant type is not supported: client_credentials or password")
    oauth_error = "unsupported_grant_type"


class OAuthScopeRefused(OAuthRefused):
    code = "oauth_scope_refused"
    title = N_("None of the requested scopes may be given to this client")
    oauth_error = "invalid_scope"


class OAuthGrantRefused(OAuthRefused):
    code = "oauth_grant_refused"
    title = N_("Wrong username or password")
    oauth_error = "invalid_grant"


class ProfessionalNotOfClient(OAuthGrantRefused):
    code = "professional_not_of_client"
    title = N_("This professional does not work in the software's pharmacy or practice")


class ClientAuthenticationFailed(AuthenticationFailed):
    """Unknown client, wrong secret, or a client authenticated in a way it did not register."""

    code = "client_authentication_failed"
    title = N_("The software client could not be authenticated")
    oauth_error = "invalid_client"


class ClientRevoked(ClientAuthenticationFailed):
    code = "client_revoked"
    title = N_("This software client is revoked")


class ClientAssertionInvalid(ClientAuthenticationFailed):
    code = "client_assertion_invalid"
    title = N_("The client assertion (RFC 7523 JWT) is not valid")


class ClientAssertionReplayed(ClientAuthenticationFailed):
    code = "client_assertion_replayed"
    title = N_("This client assertion (its jti) was used already")


class InsufficientScope(PermissionDenied):
    code = "insufficient_scope"
    title = N_("The token's scopes do not allow this operation")


class ClientRateLimited(TooManyAttempts):
    code = "client_rate_limited"
    title = N_("Too many calls from this software client")


class SoftwareClientNotFound(NotFound):
    code = "software_client_not_found"
    title = N_("No software client has this client_id")


# Event subscriptions (issue 13 item 5, docs/events.md): an organisation's webhooks.


class NoOrganisation(PermissionDenied):
    code = "no_organisation"
    title = N_("Subscriptions belong to a practice or a pharmacy, and you are in neither")


class EventSubscriptionNotFound(NotFound):
    code = "event_subscription_not_found"
    title = N_("Your organisation has no event subscription of this id")


class EventDeliveryNotFound(NotFound):
    code = "event_delivery_not_found"
    title = N_("No event delivery has this id")


def error_classes() -> list[type[DomainError]]:
    """DomainError and every subclass of it, once each."""
    found: list[type[DomainError]] = []
    pending = [DomainError]
    while pending:
        kind = pending.pop()
        if kind not in found:
            found.append(kind)
            pending.extend(kind.__subclasses__())
    return found

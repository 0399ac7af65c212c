"""Which OAuth scope each API operation needs of a software client's token: the one table
(docs/software-clients.md, "Scopes"). Tokens without a software have every scope of their role;
an operation missing here is refused to every software token."""

from dataclasses import dataclass

from eprescription.domain.errors import InsufficientScope, PermissionDenied
from eprescription.services.software_clients import DISPENSE, EVENTS, ISSUE, READ, SoftwareCaller


@dataclass(frozen=True)
class Needs:
    """What a software token needs to call an operation: a scope (None: no software token
    may), and whether the software may call it alone (client_credentials, no professional)."""

    scope: str | None
    alone: bool = False


PUBLIC = Needs(None)  # anyone may call it: no check at all
NOT_FOR_SOFTWARE = Needs(None)  # the patient's and the administrator's own operations
ANY_SCOPE = Needs("")  # any professional's token through a software (who am I, log out)
TO_ISSUE, TO_READ, TO_DISPENSE = Needs(ISSUE), Needs(READ), Needs(DISPENSE)
TO_FOLLOW = Needs(EVENTS)  # event subscriptions, with a professional's token

BY_ENDPOINT: dict[str, Needs] = {
    # public documents and proofs
    "api_docs.browse": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    "api_audit.checkpoint": PUBLIC,
    "api_audit.checkpoint_at": PUBLIC,
    "api_audit.consistency": PUBLIC,
    "api_auth.issue_token": PUBLIC,
    "api_oauth.token": PUBLIC,
    "api_oauth.revoke": PUBLIC,
    "api_trust.certificates": PUBLIC,
    "api_verify.verify": PUBLIC,
    "fhir_r4.metadata": PUBLIC,
    # the caller
    "api_auth.me": ANY_SCOPE,
    "api_auth.logout": ANY_SCOPE,
    # the catalog: the software alone may search it
    "api_medications.search": Needs(READ, alone=True),
    # prescribing
    "api_prescriptions.issue": TO_ISSUE,
    "api_prescriptions.review": TO_ISSUE,
    "api_prescriptions.cancel": TO_ISSUE,
    "api_external_signing.prepare": TO_ISSUE,
    "api_external_signing.submit": TO_ISSUE,
    "api_renewal_requests.decline": TO_ISSUE,
    "api_prescriptions.list_issued": TO_READ,
    "api_prescriptions.get": TO_READ,
    "api_prescriptions.qr_png": TO_READ,
    "api_prescriptions.qr_svg": TO_READ,
    "api_renewal_requests.for_prescriber": TO_READ,
    # the counter
    "api_pharmacy.scan": TO_DISPENSE,
    "api_pharmacy.lookup_by_card": TO_DISPENSE,
    "api_pharmacy.lookup_by_card_in_url": TO_DISPENSE,
    "api_pharmacy.dispense": TO_DISPENSE,
    "api_pharmacy.reverse": TO_DISPENSE,
    "api_pharmacy.list_dispensations": TO_READ,
    "api_pharmacy.read_dispensation": TO_READ,
    # FHIR
    "fhir_r4.search_medication_requests": TO_READ,
    "fhir_r4.post_search_medication_requests": TO_READ,
    "fhir_r4.read_medication_request": TO_READ,
    "fhir_r4.search_medication_dispenses": TO_READ,
    "fhir_r4.post_search_medication_dispenses": TO_READ,
    "fhir_r4.read_patient": TO_READ,
    "fhir_r4.read_practitioner": TO_READ,
    "fhir_r4.read_organization": TO_READ,
    "fhir_r4_dispensing.create_medication_dispense": TO_DISPENSE,
    "fhir_r4_dispensing.read_medication_dispense": TO_READ,
    "fhir_r4_issuing.prepare": TO_ISSUE,
    "fhir_r4_issuing.transaction": TO_ISSUE,
    # events (docs/events.md): the organisation's subscriptions; the dead letters are the admin's
    "api_event_subscriptions.create": TO_FOLLOW,
    "api_event_subscriptions.list_mine": TO_FOLLOW,
    "api_event_subscriptions.get": TO_FOLLOW,
    "api_event_subscriptions.delete": TO_FOLLOW,
    "fhir_r4_subscriptions.create": TO_FOLLOW,
    "fhir_r4_subscriptions.search": TO_FOLLOW,
    "fhir_r4_subscriptions.read": TO_FOLLOW,
    "fhir_r4_subscriptions.delete": TO_FOLLOW,
    "api_event_subscriptions.dead_letters": NOT_FOR_SOFTWARE,
    "api_event_subscriptions.replay": NOT_FOR_SOFTWARE,
    # the patient's health space: never through a software client
    "api_me.access_log": NOT_FOR_SOFTWARE,
    "api_me.list_mine": NOT_FOR_SOFTWARE,
    "api_me.get_mine": NOT_FOR_SOFTWARE,
    "api_me.set_pickup_mode": NOT_FOR_SOFTWARE,
    "api_me.qr_svg": NOT_FOR_SOFTWARE,
    "api_me.list_representatives": NOT_FOR_SOFTWARE,
    "api_me.add_representative": NOT_FOR_SOFTWARE,
    "api_me.revoke_representative": NOT_FOR_SOFTWARE,
    "api_renewal_requests.ask": NOT_FOR_SOFTWARE,
    "api_renewal_requests.mine": NOT_FOR_SOFTWARE,
}


def check(endpoint: str | None, software: SoftwareCaller, alone: bool) -> None:
    """Refuse a software token the operation `endpoint` unless its scopes allow it (and, for
    the software acting alone, unless the operation is one it may call alone)."""
    needs = BY_ENDPOINT.get(endpoint or "", NOT_FOR_SOFTWARE)
    if needs.scope is None:
        raise PermissionDenied("A software client's token cannot be used for this operation.")
    if needs.scope and needs.scope not in software.scopes:
        raise InsufficientScope(f"This operation needs the scope {needs.scope!r}.")
    if alone and not needs.alone:
        raise PermissionDenied("This operation needs a professional's token (grant password).")


def documented(endpoint: str) -> dict[str, object]:
    """The OpenAPI extension members that say what a software token needs for `endpoint`:
    `x-software-scope` (null: no software token may call it) and `x-software-alone`."""
    needs = BY_ENDPOINT.get(endpoint, NOT_FOR_SOFTWARE)
    return {"x-software-scope": needs.scope, "x-software-alone": needs.alone}

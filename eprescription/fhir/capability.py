"""The CapabilityStatement: what our FHIR R4 endpoint serves, and how to authenticate."""

from eprescription.fhir import systems

PUBLISHED = "2026-12-01"  # when what is below last changed


PATIENT_IDENTIFIER = {
    "name": "patient.identifier",
    "type": "token",
    "documentation": (
        "The patient's national identifier, [system|]value (NIR: urn:oid:1.2.250.1.213.1.4.8). "
        "Only what you may read is found: your own and those you represent today (patient), "
        "the prescriptions you wrote (prescriber); pharmacists are refused (403). An unknown "
        "identifier and one you may see nothing of give the same empty searchset. Prefer "
        "POST {type}/_search with a form body: the NIR stays out of URLs."
    ),
}
PAGING = [
    {"name": "_count", "type": "number", "documentation": "Matches per page (1-100, 50)."},
    {"name": "page", "type": "number", "documentation": "Which page, from 1 (links in Bundle)."},
]


# Issuing with the prescriber's own key (docs/fhir.md, "Issuing"); helper B's.
PREPARE = {
    "name": "prepare",
    "definition": f"{systems.OURS}/OperationDefinition/MedicationRequest-prepare",
    "documentation": (
        "Prescribers: POST the transaction Bundle of MedicationRequests (or Parameters: "
        "bundle, alg, x5c) to MedicationRequest/$prepare; Parameters answer with the exact "
        "payload to sign (RFC 8785, base64) and its JWS signing input; nothing is stored."
    ),
}
ISSUING = {
    "code": "transaction",
    "documentation": (
        "Issuing only: POST to the base a transaction Bundle of the MedicationRequests given "
        "to $prepare and one Provenance whose signature (sigFormat application/jose) is the "
        "compact JWS of the prepared payload, with x5c; checked as "
        "POST /api/v1/prescriptions/signed; Idempotency-Key; 201, Location and a "
        "transaction-response Bundle."
    ),
}


def _status(codes: str) -> dict:
    return {
        "name": "status",
        "type": "token",
        "documentation": f"With patient.identifier, comma-separated: any of {codes}.",
    }


SUBSCRIPTION = {
    "type": "Subscription",
    "documentation": (
        "R4 rest-hook for the status events of the caller's practice (prescribers) or "
        "pharmacy (pharmacists): criteria MedicationRequest, MedicationRequest?status= "
        "(active, completed, cancelled, stopped) or MedicationDispense; channel.payload "
        "absent (an empty POST) or application/fhir+json (an id-only history Bundle, shaped "
        "as the R4B Subscriptions backport's notification). Every POST is signed "
        "(Webhook-Signature, the secret in the created Subscription's extension, shown once). "
        "No channel.header, end or contact (docs/events.md)."
    ),
    "interaction": [
        {"code": "create"},
        {"code": "read"},
        {"code": "search-type"},
        {"code": "delete"},
    ],
}


def capability_statement(base_url: str) -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "eprescription",
        "kind": "instance",
        "software": {"name": "eprescription"},
        "implementation": {
            "description": (
                "Read-only FHIR R4 views of signed prescriptions and dispensations, and of "
                "the prescribers and pharmacies they name"
            ),
            "url": base_url,
        },
        "fhirVersion": systems.FHIR_VERSION,
        "format": [systems.MEDIA_TYPE],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "The signed prescription (JWS) is at /api/v1/prescriptions/{number}. "
                    "Errors are OperationOutcomes whose diagnostics start with a stable code."
                ),
                "security": {
                    "description": (
                        "Authorization: Bearer <token> from POST /api/v1/auth/token, from "
                        "POST /api/v1/oauth/token for registered software (OAuth 2.0 client "
                        "credentials; scopes issue, read, dispense, events), or the browser "
                        "session. A prescription nobody lets you see answers 404, exactly "
                        "like a missing one."
                    )
                },
                "interaction": [ISSUING],
                "resource": [
                    {
                        "type": "MedicationRequest",
                        "documentation": (
                            "One per prescription line: line 1's id is the prescription "
                            "number, line n's is {number}-{n}; all share groupIdentifier. "
                            "Readable by the prescriber, the patient and their representatives."
                        ),
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {
                                "name": "group-identifier",
                                "type": "token",
                                "documentation": (
                                    "The prescription number: every line of it (this or "
                                    "patient.identifier)."
                                ),
                            },
                            PATIENT_IDENTIFIER,
                            _status("active, completed, cancelled, stopped"),
                            *PAGING,
                        ],
                        "operation": [PREPARE],
                    },
                    {
                        "type": "MedicationDispense",
                        "documentation": (
                            "One per dispensed line; entered-in-error once reversed. Readable "
                            "by the patient, their representatives, the prescriber, and the "
                            "pharmacies that dispensed it (their own dispensations only). "
                            "Created by pharmacists: POST a transaction Bundle of "
                            "MedicationDispenses (or one), one per pack line of one "
                            "prescription, = one dispensation under the JSON API's rules; the "
                            "QR text in the extension "
                            f"{systems.OURS}/StructureDefinition/prescription-access-code; "
                            "Idempotency-Key; 201 with a transaction-response Bundle ending "
                            "with the receipt, a Provenance signed by the service (JWS). Read: "
                            "id {dispensation id}-{position}, as the search shows it."
                        ),
                        "interaction": [
                            {"code": "read"},
                            {"code": "search-type"},
                            {"code": "create"},
                        ],
                        "searchParam": [
                            {
                                "name": "prescription",
                                "type": "reference",
                                "documentation": (
                                    "The prescription number (every line), or "
                                    "MedicationRequest/{id} for one line (this or "
                                    "patient.identifier)."
                                ),
                            },
                            PATIENT_IDENTIFIER,
                            _status("completed, entered-in-error"),
                            *PAGING,
                        ],
                    },
                    {
                        "type": "Patient",
                        "documentation": (
                            "A patient; id = the one subject.reference gives (searches by "
                            "patient, MedicationDispense). Readable by the patient, their "
                            "representatives and the prescribers who prescribed for them."
                        ),
                        "interaction": [{"code": "read"}],
                    },
                    {
                        "type": "Practitioner",
                        "documentation": (
                            "A prescriber; id = the RPPS number. Readable by prescribers "
                            "and pharmacists."
                        ),
                        "interaction": [{"code": "read"}],
                    },
                    {
                        "type": "Organization",
                        "documentation": (
                            "A pharmacy; id = the FINESS number. Readable by prescribers "
                            "and pharmacists."
                        ),
                        "interaction": [{"code": "read"}],
                    },
                    SUBSCRIPTION,
                ],
            }
        ],
    }

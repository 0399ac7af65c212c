"""The CapabilityStatement: what our FHIR R4 endpoint serves, and how to authenticate."""

from eprescription.fhir import systems

PUBLISHED = "2026-11-28"  # when what is below last changed


def capability_statement(base_url: str) -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "eprescription",
        "kind": "instance",
        "software": {"name": "eprescription"},
        "implementation": {
            "description": "Read-only FHIR R4 views of signed prescriptions and dispensations",
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
                        "Authorization: Bearer <token> from POST /api/v1/auth/token, or the "
                        "browser session. A prescription nobody lets you see answers 404, "
                        "exactly like a missing one."
                    )
                },
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
                                "documentation": "The prescription number (required).",
                            }
                        ],
                    },
                    {
                        "type": "MedicationDispense",
                        "documentation": (
                            "One per dispensed line; entered-in-error once reversed. Readable "
                            "by the patient, their representatives, the prescriber, and the "
                            "pharmacies that dispensed it (their own dispensations only)."
                        ),
                        "interaction": [{"code": "search-type"}],
                        "searchParam": [
                            {
                                "name": "prescription",
                                "type": "reference",
                                "documentation": (
                                    "The prescription number (every line), or "
                                    "MedicationRequest/{id} for one line (required)."
                                ),
                            }
                        ],
                    },
                ],
            }
        ],
    }

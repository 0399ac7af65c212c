"""The URIs that name identifiers and codes in our FHIR resources (docs/fhir.md says why)."""

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"

# National identifiers and professional registries (ANS, and the Estonian base profiles).
NATIONAL_ID_SYSTEMS = {
    "NIR": "urn:oid:1.2.250.1.213.1.4.8",
    "isikukood": "https://fhir.ee/sid/pid/est/ni",
}
RPPS = "urn:oid:1.2.250.1.71.4.2.1"
FINESS = "urn:oid:1.2.250.1.71.4.2.2"

# Medication codes of the ANSM, as the ANS CI-SIS names them.
CIS = "urn:oid:1.2.250.1.213.2.3.1"
CIP = "urn:oid:1.2.250.1.213.2.3.2"
ANSM_SUBSTANCE = "http://data.esante.gouv.fr/ansm/medicament/substance"

# Ours: a placeholder domain (RFC 2606 .example) until the operator registers its own.
OURS = "https://eprescription.example/fhir"
PRESCRIPTION_NUMBER = f"{OURS}/sid/prescription-number"
PRESCRIPTION_LINE = f"{OURS}/sid/prescription-line"
DISPENSATION = f"{OURS}/sid/dispensation"
NON_SUBSTITUTION_REASON = f"{OURS}/CodeSystem/non-substitution-reason"
ERROR_CODE = f"{OURS}/CodeSystem/error-code"

SUBSTANCE_ADMIN_SUBSTITUTION = "http://terminology.hl7.org/CodeSystem/v3-substanceAdminSubstitution"
UCUM = "http://unitsofmeasure.org"


def national_id_system(name: str) -> str:
    """The URI of a national identifier named as in the signed payload ("NIR", "isikukood")."""
    return NATIONAL_ID_SYSTEMS.get(name, f"{OURS}/sid/national-id/{name}")

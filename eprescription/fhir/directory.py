"""Patients, prescribers as Practitioners and pharmacies as Organizations, read by id."""

from eprescription.fhir import systems
from eprescription.models import Person, Pharmacy, Prescriber

NATIONAL_ID_NAMES = {"FR": "NIR", "EE": "isikukood"}  # the signed payload's names, by country

PHARMACY_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/organization-type",
    "code": "prov",
    "display": "Healthcare Provider",
}


def practitioner(row: Prescriber) -> dict:
    """Id: the RPPS number, as our references name the prescriber."""
    person = row.person
    resource: dict = {
        "resourceType": "Practitioner",
        "id": row.rpps,
        "identifier": [{"system": systems.RPPS, "value": row.rpps}],
        "active": True,
        "name": [{"family": person.family_name, "given": [person.given_name]}],
    }
    if row.specialty:
        resource["qualification"] = [{"code": {"text": row.specialty}}]
    return resource


def organization(row: Pharmacy) -> dict:
    """Id: the FINESS number, as our references name the pharmacy."""
    resource: dict = {
        "resourceType": "Organization",
        "id": row.finess,
        "identifier": [{"system": systems.FINESS, "value": row.finess}],
        "active": True,
        "type": [{"coding": [PHARMACY_TYPE], "text": "pharmacy"}],
        "name": row.name,
    }
    if row.address:
        resource["address"] = [{"text": row.address}]
    return resource


def patient(row: Person) -> dict:
    """Id: our person id, as `subject.reference` names it where we give one."""
    name = NATIONAL_ID_NAMES.get(row.country, row.country)
    resource: dict = {
        "resourceType": "Patient",
        "id": str(row.id),
        "identifier": [{"system": systems.national_id_system(name), "value": row.national_id}],
        "name": [{"family": row.family_name, "given": [row.given_name]}],
    }
    if row.birth_date is not None:
        resource["birthDate"] = row.birth_date.isoformat()
    return resource

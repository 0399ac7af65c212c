"""Shared pieces of our resources: people and pharmacies as logical references, quantities."""

from datetime import UTC, datetime
from decimal import Decimal

from eprescription.fhir import systems

PACK = "pack"


def patient(signed_patient: dict, person_id: int | None = None) -> dict:
    """The patient of a signed prescription, by national identifier, and as Patient/{our
    person id} when the caller knows it."""
    identifier = signed_patient["identifier"]
    reference = {} if person_id is None else {"reference": f"Patient/{person_id}"}
    return {
        **reference,
        "type": "Patient",
        "identifier": {
            "system": systems.national_id_system(identifier["system"]),
            "value": identifier["value"],
        },
        "display": f"{signed_patient['given_name']} {signed_patient['family_name']}",
    }


def practitioner(signed_prescriber: dict) -> dict:
    """The prescriber of a signed prescription, by RPPS number (the id of our Practitioner)."""
    return {
        "reference": f"Practitioner/{signed_prescriber['rpps']}",
        "type": "Practitioner",
        "identifier": {"system": systems.RPPS, "value": signed_prescriber["rpps"]},
        "display": f"{signed_prescriber['given_name']} {signed_prescriber['family_name']}",
    }


def pharmacy(finess: str, name: str) -> dict:
    """A pharmacy, by FINESS number (the id of our Organization)."""
    return {
        "reference": f"Organization/{finess}",
        "type": "Organization",
        "identifier": {"system": systems.FINESS, "value": finess},
        "display": name,
    }


def packs(count: int) -> dict:
    """A number of packs (boxes), the unit prescriptions and dispensations count in."""
    return {"value": count, "unit": PACK}


def days(count: int) -> dict:
    """A duration in days (UCUM)."""
    return {"value": count, "unit": "days", "system": systems.UCUM, "code": "d"}


def decimal(text: str) -> int | float:
    """A signed decimal string ("0.5") as a JSON number, as FHIR's decimal type wants."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def instant(moment: datetime) -> str:
    """A UTC time to the second, as FHIR's dateTime and instant types write it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""Resource ids of prescription lines: line 1 is the number itself, line n ≥ 2 is "{number}-{n}"."""

from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import NotFound, ValidationFailed
from eprescription.fhir import systems

LINE_SEPARATOR = "-"
REFERENCE_PREFIX = "MedicationRequest/"
LINE_DIGITS_MAX = 2  # at most 20 lines


def line_id(number: str, line: int) -> str:
    """The MedicationRequest id of a line."""
    return number if line == 1 else f"{number}{LINE_SEPARATOR}{line}"


def split_line_id(resource_id: str) -> tuple[str, int | None]:
    """(number as typed, line) of a MedicationRequest id; line None when only a number is given.

    A grouped number (ABCD-EFGH-JKX) ends with three characters after its last dash, so it is
    never read as a line suffix. "{number}-1" names no resource: line 1's id is the number.
    """
    number, separator, suffix = resource_id.rpartition(LINE_SEPARATOR)
    is_line = (
        separator
        and suffix.isdigit()
        and len(suffix) <= LINE_DIGITS_MAX
        and len(codes.compact_number(number)) == codes.NUMBER_LENGTH
    )
    if not is_line:
        return resource_id, None
    line = int(suffix)
    if line < 2:
        raise NotFound(f"No MedicationRequest has this id; line 1's id is the number, {number}.")
    return number, line


def group_number(token: str) -> str:
    """The number in a group-identifier search token: "number" or "{our system}|number"."""
    system, separator, value = token.rpartition("|")
    if separator and system and system != systems.PRESCRIPTION_NUMBER:
        raise ValidationFailed(
            f"group-identifier: the system must be {systems.PRESCRIPTION_NUMBER} or left out.",
            errors={"group-identifier": ["unknown identifier system"]},
        )
    return value


def prescription_reference(value: str) -> tuple[str, int | None]:
    """(number, line) of a MedicationDispense `prescription` search value.

    A bare number names the whole prescription (line None); "MedicationRequest/{id}" or a
    line id names exactly one line, as a FHIR reference does.
    """
    if value.startswith(REFERENCE_PREFIX):
        number, line = split_line_id(value.removeprefix(REFERENCE_PREFIX))
        return number, line or 1
    return split_line_id(value)


def national_id_value(token: str) -> str:
    """The value of a patient.identifier token, "{national id system}|value" or "value"; an
    unknown system is refused in words that never repeat the value."""
    system, separator, value = token.rpartition("|")
    if separator and system and system not in systems.NATIONAL_ID_SYSTEMS.values():
        known = " or ".join(systems.NATIONAL_ID_SYSTEMS.values())
        raise ValidationFailed(
            f"patient.identifier: the system must be {known}, or left out.",
            errors={"patient.identifier": ["unknown identifier system"]},
        )
    return value

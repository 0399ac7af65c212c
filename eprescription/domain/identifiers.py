"""National and professional identifiers (NIR, isikukood, RPPS, FINESS): compact form or why not."""

from datetime import date

from stdnum import luhn
from stdnum.ee import ik
from stdnum.exceptions import ValidationError
from stdnum.fr import nir

from eprescription.domain.errors import InvalidIdentifier
from eprescription.domain.messages import Message

CORSICA = ("2A", "2B")
NIR_SEX_DIGITS = "12378"  # 1 and 2 for men and women; 3, 7 and 8 for provisional numbers
FRANCE, ESTONIA = "FR", "EE"


def _compact(value: str | None, missing: Message) -> str:
    number = "".join((value or "").split()).replace(".", "").replace("-", "").upper()
    if not number:
        raise InvalidIdentifier(missing)
    return number


def validate_national_id(value: str | None, country: str) -> str:
    """The compact national identifier of a person in `country` (FR: NIR, EE: isikukood)."""
    return validate_isikukood(value) if country == ESTONIA else validate_nir(value)


def validate_nir(value: str | None) -> str:
    """The compact NIR (15 characters, 2A/2B allowed for Corsica), or InvalidIdentifier."""
    number = _compact(value, Message("nir_missing", "the NIR is missing"))
    if len(number) != 15:
        raise InvalidIdentifier(
            Message("nir_length", "an NIR has 15 characters, not {count}", count=len(number))
        )
    department = number[5:7]
    if not (number[:5] + number[7:]).isdigit() or not (
        department.isdigit() or department in CORSICA
    ):
        raise InvalidIdentifier(
            Message(
                "nir_characters",
                "an NIR has only digits, except 2A or 2B (Corsica) in the 6th and 7th places",
            )
        )
    if number[0] not in NIR_SEX_DIGITS:
        raise InvalidIdentifier(
            Message(
                "nir_first_digit",
                "an NIR starts with 1 or 2 (or 3, 7, 8), not {first}",
                first=number[0],
            )
        )
    expected = nir.calc_check_digits(number)
    if expected != number[13:]:
        raise InvalidIdentifier(
            Message(
                "nir_key",
                "the NIR's key should be {expected}, not {typed}",
                expected=expected,
                typed=number[13:],
            )
        )
    return number


def nir_agrees_with_birth_date(number: str, birth_date: date) -> bool:
    """Whether a valid NIR's year and month of birth agree with `birth_date`.

    Months above 12 are codes for an unknown month, so only the year is compared then.
    """
    if int(number[1:3]) != birth_date.year % 100:
        return False
    month = int(number[3:5])
    return month > 12 or month == birth_date.month


def validate_isikukood(value: str | None) -> str:
    """The Estonian personal code (11 digits: sex and century, birth date, serial, check digit)."""
    number = _compact(value, Message("isikukood_missing", "the isikukood is missing"))
    if not number.isdigit():
        raise InvalidIdentifier(Message("isikukood_digits", "an isikukood has only digits"))
    if len(number) != 11:
        raise InvalidIdentifier(
            Message(
                "isikukood_length", "an isikukood has 11 digits, not {count}", count=len(number)
            )
        )
    try:
        ik.get_birth_date(number)
    except ValidationError as error:
        raise InvalidIdentifier(
            Message(
                "isikukood_birth_date", "the isikukood's first 7 digits are not a valid birth date"
            )
        ) from error
    _check_last(
        number,
        ik.calc_check_digit(number),
        "isikukood_check_digit",
        "the isikukood's check digit should be {expected}, not {typed}",
    )
    return number


def isikukood_birth_date(number: str) -> date:
    """The birth date written in a valid isikukood."""
    return ik.get_birth_date(number)


def validate_rpps(value: str | None) -> str:
    """The RPPS number of a health professional (11 digits, Luhn check digit)."""
    number = _compact(value, Message("rpps_missing", "the RPPS number is missing"))
    if not number.isdigit():
        raise InvalidIdentifier(Message("rpps_digits", "an RPPS number has only digits"))
    if len(number) == 12 and number[0] == "8":
        raise InvalidIdentifier(
            Message(
                "rpps_leading_8",
                "this looks like a national identifier (8 + RPPS): drop the leading 8",
            )
        )
    if len(number) != 11:
        raise InvalidIdentifier(
            Message("rpps_length", "an RPPS number has 11 digits, not {count}", count=len(number))
        )
    _check_last(
        number,
        luhn.calc_check_digit(number[:10]),
        "rpps_check_digit",
        "the RPPS number's check digit should be {expected}, not {typed}",
    )
    return number


def validate_finess(value: str | None) -> str:
    """The FINESS number of a pharmacy (9 characters, Luhn key), or InvalidIdentifier.

    Corsica's numbers start with 2A or 2B. No published rule for their key could be
    verified, so only their format is checked rather than refusing real pharmacies.
    """
    number = _compact(value, Message("finess_missing", "the FINESS number is missing"))
    if len(number) != 9:
        raise InvalidIdentifier(
            Message(
                "finess_length", "a FINESS number has 9 characters, not {count}", count=len(number)
            )
        )
    department, rest = number[:2], number[2:]
    if not rest.isdigit() or not (department.isdigit() or department in CORSICA):
        raise InvalidIdentifier(
            Message(
                "finess_characters",
                "a FINESS number has only digits, except 2A or 2B (Corsica) at the start",
            )
        )
    if department in CORSICA:
        return number
    _check_last(
        number,
        luhn.calc_check_digit(number[:8]),
        "finess_key",
        "the FINESS number's key should be {expected}, not {typed}",
    )
    return number


def _check_last(number: str, expected: str, code: str, english: str) -> None:
    """InvalidIdentifier unless `number` ends with its check character `expected` (`english`
    words the refusal with {expected} and {typed})."""
    if number[-1] != expected:
        raise InvalidIdentifier(Message(code, english, expected=expected, typed=number[-1]))

"""What the account pages send: an administrator's act on an account or a new account or
pharmacy, one's own new password or signing PIN."""

from datetime import date

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from eprescription.domain.messages import Message

TEXT_MAX = 256
PASSWORD_MAX = 1024  # services.accounts.PASSWORD_MAX_LENGTH: the service checks the rules
NAME_MAX = 128  # services.accounts.NAME_MAX_LENGTH
ADDRESS_MAX = 512
PIN_MAX = 32  # a PIN is 4 to 8 digits (services.pki checks it): this only bounds the input
REPEATED = Message("entries_differ", "the two entries differ")


class _Text(fields.String):
    """A text field, bounded (the services check the rest); empty when not sent."""

    def __init__(self, length: int = TEXT_MAX) -> None:
        super().__init__(load_default="", validate=validate.Length(max=length))


class _Day(fields.Field):
    """A date typed as YYYY-MM-DD (an <input type="date">); None when left empty."""

    def _deserialize(self, value, attr, data, **kwargs) -> date | None:
        text = str(value or "").strip()
        try:
            return date.fromisoformat(text) if text else None
        except ValueError as error:
            raise ValidationError(Message("a_date", "a date: YYYY-MM-DD")) from error


class _TypedTwice(Schema):
    """A form with a secret typed twice (`twice`: the field, then its repeat): the two must
    agree, else the repeat is refused; the repeat is then left out of what is read."""

    twice: tuple[str, str]

    @validates_schema
    def _agree(self, data: dict, **kwargs) -> None:
        name, repeat = self.twice
        if data.get(name) != data.get(repeat):
            raise ValidationError(REPEATED, field_name=repeat)

    @post_load
    def _once(self, data: dict, **kwargs) -> dict:
        data.pop(self.twice[1], None)
        return data


class AccountActSchema(Schema):
    """An administrator's act (the act itself is in the path): a new password, a revocation's
    reason, and the search to come back to; only bounded here, the services check them."""

    q = _Text()
    password = _Text(PASSWORD_MAX)
    reason = _Text()


class PasswordChangeSchema(_TypedTwice):
    """The current password, then the new one twice."""

    twice = ("new", "repeat")
    current = _Text(PASSWORD_MAX)
    new = _Text(PASSWORD_MAX)
    repeat = _Text(PASSWORD_MAX)


class NewAccountSchema(_TypedTwice):
    """The administrator's new account (services.registration.NewAccount): the password
    twice, the person's details, what the role needs; bounded here, the services check them."""

    twice = ("password", "repeat")
    role = _Text()
    username = _Text()
    password = _Text(PASSWORD_MAX)
    repeat = _Text(PASSWORD_MAX)
    national_id = _Text()
    given_name = _Text(NAME_MAX)
    family_name = _Text(NAME_MAX)
    birth_date = _Day(load_default=None)
    rpps = _Text()
    specialty = _Text(NAME_MAX)
    setting = _Text()
    pharmacy_finess = _Text()


class NewPharmacySchema(Schema):
    """The administrator's new pharmacy: FINESS number, name, address."""

    finess = _Text()
    name = _Text()
    address = _Text(ADDRESS_MAX)


class PinChangeSchema(_TypedTwice):
    """The prescriber's current signing PIN, then the new one twice."""

    twice = ("new_pin", "repeat")
    pin = _Text(PIN_MAX)
    new_pin = _Text(PIN_MAX)
    repeat = _Text(PIN_MAX)

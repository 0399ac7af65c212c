"""The input fields several request bodies share: a person's national identifier, the PIN."""

from marshmallow import fields, validate

NATIONAL_ID_MAX = 32  # a NIR is 15 characters: room for the spaces people type
PIN_MAX = 64


def national_id(description: str, *, required: bool = False) -> fields.String:
    """A national identifier (NIR; isikukood in Estonia) as typed or read from a card; only
    bounded here, the services check it."""
    return fields.String(
        required=required,
        validate=validate.Length(min=1, max=NATIONAL_ID_MAX),
        metadata={"description": description},
    )


def pin() -> fields.String:
    """The prescriber's signing PIN, asked by every signing request (a new field each time)."""
    return fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=PIN_MAX),
        metadata={
            "description": "The prescriber's signing PIN (4 to 8 digits).",
            "example": "1234",
        },
    )

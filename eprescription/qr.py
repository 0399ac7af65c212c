"""The QR token of a prescription ("EP1.<number>.<access code>"): encoding, decoding, rendering."""

import io
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

from eprescription.domain.errors import InvalidPrescriptionNumber, InvalidQrCode
from eprescription.domain.messages import Message
from eprescription.domain.prescription_codes import is_well_formed_access_code, validate_number

# Only capitals, digits and "." so the whole text fits QR alphanumeric mode (version 3, 29×29).
VERSION_PREFIX = "EP1"
SEPARATOR = "."
TOKEN_MAX_LENGTH = 64  # anything longer is not ours; do not even look at it


@dataclass(frozen=True)
class Token:
    number: str
    access_code: str


def encode(number: str, access_code: str) -> str:
    """The text a QR code carries: version, number and access code."""
    return SEPARATOR.join((VERSION_PREFIX, number, access_code))


def decode(text: str | None) -> Token:
    """The number and access code of a QR text, or InvalidQrCode telling what is wrong.

    A keyboard-wedge scanner may add spaces or a line end, and may type in lower case
    (caps lock): both are tolerated.
    """
    text = (text or "").strip().upper()
    if not text:
        raise InvalidQrCode(Message("qr_empty", "The QR code text is empty."))
    if len(text) > TOKEN_MAX_LENGTH:
        raise InvalidQrCode(
            Message("qr_too_long", "This text is too long to be a prescription QR code.")
        )
    parts = text.split(SEPARATOR)
    if parts[0] != VERSION_PREFIX:
        if parts[0].startswith("EP"):
            raise InvalidQrCode(
                Message(
                    "qr_version",
                    "This QR code version ({version}) is not supported.",
                    version=parts[0],
                )
            )
        raise InvalidQrCode(Message("qr_not_a_prescription", "This is not a prescription QR code."))
    if len(parts) != 3:
        raise InvalidQrCode(
            Message("qr_incomplete", "This QR code text is incomplete (truncated?).")
        )
    _, number_text, access_code = parts
    try:
        number = validate_number(number_text)
    except InvalidPrescriptionNumber as error:
        raise InvalidQrCode(
            Message(
                "qr_number_wrong",
                "The QR code's prescription number is wrong: {problem}",
                problem=error.detail,
            )
        ) from error
    if not is_well_formed_access_code(access_code):
        raise InvalidQrCode(
            Message("qr_access_code", "The QR code's access code is incomplete or damaged.")
        )
    return Token(number, access_code)


def _make(text: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(text, optimize=0)
    code.make(fit=True)
    return code


def render_svg(text: str) -> bytes:
    """A standalone SVG document of the QR code (scales to any size, prints sharply)."""
    image = _make(text).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode").encode()


def render_png(text: str, box_size: int = 10) -> bytes:
    """A PNG of the QR code, `box_size` pixels per module."""
    code = _make(text)
    code.box_size = box_size
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()

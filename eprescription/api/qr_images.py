"""The QR code images the API serves, SVG or PNG, never cached: they carry the access code."""

from flask import Response

from eprescription import qr
from eprescription.errors import OK

SVG = {OK: {"description": "An SVG image"}}  # the OpenAPI answer of an SVG operation
PNG = {OK: {"description": "A PNG image"}}
NO_STORE = {"Cache-Control": "no-store"}


def svg(text: str) -> Response:
    """The QR code of `text` as an SVG answer."""
    return Response(qr.render_svg(text), mimetype="image/svg+xml", headers=NO_STORE)


def png(text: str) -> Response:
    """The QR code of `text` as a PNG answer."""
    return Response(qr.render_png(text), mimetype="image/png", headers=NO_STORE)

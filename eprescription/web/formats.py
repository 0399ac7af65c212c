"""Dates, times and money as pages show them: in the page language and the display time zone."""

from datetime import date, datetime
from decimal import Decimal

from flask_babel import format_currency, format_date, format_time

CURRENCY = "EUR"


def _moment(value: datetime | str) -> datetime:
    """An aware datetime from one, or from the ISO text of a signed document (…Z)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def day(value: date | datetime | str | None) -> str:
    """A day in words: '3 mai 2026', 'May 3, 2026' (a moment: its day in the time zone)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else _moment(value)
    return format_date(value, "long")


def when(value: datetime | str | None) -> str:
    """A moment in the display time zone: '1 déc. 2026 08:40', 'Dec 1, 2026 8:40 AM'."""
    if value is None or value == "":
        return ""
    moment = _moment(value)
    return f"{format_date(moment, 'medium')} {format_time(moment, 'short')}"


def money(cents: int | None) -> str:
    """An amount in euros: '2,55 €', '€2.55'; a dash when there is none."""
    if cents is None:
        return "—"
    return format_currency(Decimal(cents) / 100, CURRENCY)

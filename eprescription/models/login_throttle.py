"""Wrong passwords in a row per username, and until when that username may not log in."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from eprescription.models.base import Base, UTCDateTime


class LoginThrottle(Base):
    """Kept per username as typed (normalised), whether or not an account has it, so that a
    lock says nothing about which usernames exist. Deleted by a successful login."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

"""Wrong passwords in a row per username (or per known device), and when the last one came."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from eprescription.models.base import Base, UTCDateTime


class LoginThrottle(Base):
    """Kept per username as typed (normalised), whether or not an account has it, so that a
    wait says nothing about which usernames exist; a known device's wrong passwords are kept
    under `<username>/<the device's id>`. Deleted by a successful login. The wait is derived
    from both columns (domain/login_throttle.py), which one atomic statement updates."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

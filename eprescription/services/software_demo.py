"""The demo's software clients: a practice for the demo prescribers, and one program for it and
one for the demo pharmacy, with published secrets (the demo never runs in production)."""

from dataclasses import dataclass

from sqlalchemy import select

from eprescription.models import Pharmacy, Practice, Prescriber, SoftwareClient
from eprescription.services import software_clients
from eprescription.services.uow import UnitOfWork

DEMO_PRACTICE = "Cabinet de la Gare (demo)"


@dataclass(frozen=True)
class DemoSoftware:
    client_id: str
    secret: str  # published on purpose, like the demo passwords
    name: str
    scopes: str
    for_pharmacy: bool


DEMO_SOFTWARE = (
    DemoSoftware(
        "demo-practice-software",
        "demo-practice-software-2026",
        "Demo Cabinet",
        "events issue read",
        False,
    ),
    DemoSoftware(
        "demo-pharmacy-software",
        "demo-pharmacy-software-2026",
        "Demo Officine",
        "dispense events read",
        True,
    ),
)


def ensure(uow: UnitOfWork, pharmacy_finess: str, prescriber_rpps: list[str]) -> None:
    """The demo practice (the demo prescribers in it) and the demo programs, if missing."""
    session = uow.session
    practice = session.scalar(select(Practice).where(Practice.name == DEMO_PRACTICE))
    if practice is None:
        practice = Practice(name=DEMO_PRACTICE, is_demo=True)
        session.add(practice)
        session.flush()
    for prescriber in session.scalars(
        select(Prescriber).where(Prescriber.rpps.in_(prescriber_rpps))
    ):
        prescriber.practice_id = prescriber.practice_id or practice.id
    pharmacy = session.scalar(select(Pharmacy).where(Pharmacy.finess == pharmacy_finess))
    for demo in DEMO_SOFTWARE:
        if session.scalar(
            select(SoftwareClient.id).where(SoftwareClient.client_id == demo.client_id)
        ):
            continue
        session.add(
            SoftwareClient(
                client_id=demo.client_id,
                name=demo.name,
                vendor="eprescription demo",
                version="1.0",
                pharmacy=pharmacy if demo.for_pharmacy else None,
                practice=None if demo.for_pharmacy else practice,
                scopes=demo.scopes,
                secret_hash=software_clients.secret_hash(demo.secret),
                is_demo=True,
            )
        )

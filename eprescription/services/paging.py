"""A page of results: the check of its number and size, and a page of prescriptions."""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from eprescription.domain import health_space as rules
from eprescription.domain.prescriptions import Problems
from eprescription.models import Prescription
from eprescription.services import signed_documents
from eprescription.services.uow import UnitOfWork


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    page_size: int


def check_page(problems: Problems, page: int, page_size: int) -> None:
    if not 1 <= page_size <= rules.PAGE_SIZE_MAX:
        problems.add("page_size", f"between 1 and {rules.PAGE_SIZE_MAX}")
    if not 1 <= page <= rules.PAGE_MAX:
        problems.add("page", f"between 1 and {rules.PAGE_MAX}")


def newest_prescriptions(
    uow: UnitOfWork, conditions: list[ColumnElement[bool]], page: int, page_size: int
) -> tuple[list[Prescription], int]:
    """A page of the prescriptions matching `conditions`, newest first, each with what
    verifying it needs, and how many match: one statement (a window count), and a count of its
    own only past the end, where the window has nothing to count."""
    found = (
        uow.session.execute(
            select(Prescription, func.count().over().label("total"))
            .where(*conditions)
            .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
            .options(*signed_documents.PARTS)
        )
        .unique()
        .all()
    )
    rows = [row for row, _ in found]
    total = found[0][1] if found else 0
    if not rows and page > 1:
        total = uow.session.scalar(select(func.count(Prescription.id)).where(*conditions)) or 0
    return rows, total

"""The medicine catalog's use cases: search it, and import a BDPM release into it."""

from collections.abc import Callable
from pathlib import Path

from eprescription.catalog import conditions, importer
from eprescription.catalog.importer import ImportReport
from eprescription.catalog.search import SearchPage, search_medications
from eprescription.services.uow import UnitOfWork


def search(uow: UnitOfWork, q: str, page: int, page_size: int) -> SearchPage:
    """Products matching every word of `q` as a prefix, best first, one page at a time; on the
    first page, the substance lines (DCI at a strength in a form) that match as well."""
    return search_medications(uow.session, q, page, page_size)


def import_release(
    uow: UnitOfWork, directory: Path, progress: Callable[[str], None] | None = None
) -> ImportReport:
    """Upsert the BDPM files of `directory` in the unit of work (all of it, or nothing)."""
    return importer.load_bdpm(uow.session, directory, progress)


def conditions_listing(uow: UnitOfWork) -> list[conditions.Listed]:
    """Every distinct prescribing condition of the catalog and the rule it was read as."""
    return conditions.listing(uow.session)

"""The BDPM import: one transaction that upserts a release into the catalog tables."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from eprescription.catalog import bdpm, conditions, search_index
from eprescription.catalog.bdpm import Release, SkippedLine
from eprescription.models import (
    CatalogImport,
    CompositionLine,
    GenericGroup,
    GenericGroupMember,
    PrescribingCondition,
    Presentation,
    Product,
)
from eprescription.models.base import utcnow
from eprescription.models.bulk import bulk_insert

# The tables whose rows a release replaces product by product (they have a `cis` column).
_PerProduct = type[CompositionLine] | type[GenericGroupMember] | type[PrescribingCondition]


@dataclass
class ImportReport:
    """What an import did: rows per table from the release, rows new and removed, lines skipped."""

    source: str
    counts: dict[str, int] = field(default_factory=dict)
    new: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedLine] = field(default_factory=list)
    duration_seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"BDPM import of {self.source} in {self.duration_seconds:.1f} s"]
        for table, count in self.counts.items():
            extra = ""
            if table in self.new:
                extra = f" ({self.new[table]:,} new, {self.removed[table]:,} removed from the BDPM)"
            lines.append(f"  {table}: {count:,}{extra}")
        lines.append(f"  lines skipped: {len(self.skipped):,}")
        return "\n".join(lines)


def import_bdpm(
    session: Session, directory: Path, progress: Callable[[str], None] | None = None
) -> ImportReport:
    """Import the BDPM files of `directory`; commit, or roll back everything if refused."""
    clock = time.perf_counter()
    try:
        report = load_bdpm(session, directory, progress)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    report.duration_seconds = time.perf_counter() - clock
    return report


def load_bdpm(
    session: Session, directory: Path, progress: Callable[[str], None] | None = None
) -> ImportReport:
    """Write the BDPM files of `directory` into the session's transaction, without committing
    (the caller's unit of work does, or rolls back everything if refused)."""
    say = progress or (lambda _message: None)
    started_at, clock = utcnow(), time.perf_counter()
    report = ImportReport(source=str(directory.resolve()))
    release = bdpm.read_release(directory, say)
    report.skipped = release.skipped
    _upsert_products(session, release, started_at, report, say)
    _upsert_presentations(session, release, started_at, report, say)
    _replace_per_product(session, release, report, say)
    say("Classifying the prescribing conditions")
    report.counts["products_with_conditions"] = conditions.derive(session)
    say("Rebuilding the search index")
    search_index.rebuild(session)
    session.add(
        CatalogImport(
            source=report.source,
            started_at=started_at,
            finished_at=utcnow(),
            summary=json.dumps(
                {"counts": report.counts, "new": report.new, "removed": report.removed}
            ),
            lines_skipped=len(report.skipped),
        )
    )
    report.duration_seconds = time.perf_counter() - clock
    return report


def _upsert_products(session, release: Release, now: datetime, report, say) -> None:
    rows = [{**row, "removed_from_bdpm_at": None} for row in release.rows(bdpm.PRODUCTS)]
    _upsert(session, Product, "cis", "products", rows, now, report, say)


def _upsert_presentations(session, release: Release, now: datetime, report, say) -> None:
    rows = [{**row, "removed_from_bdpm_at": None} for row in release.rows(bdpm.PRESENTATIONS)]
    _upsert(session, Presentation, "cip13", "presentations", rows, now, report, say)


def _upsert(session, model, key: str, table: str, rows: list[dict], now, report, say) -> None:
    """Insert new rows, update the others in place, and mark those the release no longer has.

    Rows are never deleted: a prescription may name a product or a pack that has left the BDPM.
    """
    say(f"Writing {table}")
    column = getattr(model, key)
    existing = dict(session.execute(select(column, model.removed_from_bdpm_at)).all())
    in_release = {row[key] for row in rows}
    vanished = [
        {key: value, "removed_from_bdpm_at": now}
        for value, removed_at in existing.items()
        if value not in in_release and removed_at is None
    ]
    report.new[table] = _insert_or_update(session, model, key, rows, existing)
    if vanished:
        session.execute(update(model), vanished)
    report.counts[table] = len(rows)
    report.removed[table] = len(vanished)


def _insert_or_update(session, model, key: str, rows: list[dict], existing) -> int:
    """Bulk INSERT the rows whose key is new and bulk UPDATE the others; the number inserted."""
    new_rows = [row for row in rows if row[key] not in existing]
    old_rows = [row for row in rows if row[key] in existing]
    bulk_insert(session, model.__table__, new_rows)
    if old_rows:
        session.execute(update(model), old_rows)
    return len(new_rows)


def _replace_per_product(session, release: Release, report, say) -> None:
    """Compositions, group memberships and conditions of the release's products replace the old.

    Products that left the BDPM keep theirs, so that an old prescription can still be read.
    """
    listed = select(Product.cis).where(Product.removed_from_bdpm_at.is_(None))
    replaced: list[tuple[_PerProduct, str, list[dict]]] = [
        (CompositionLine, "compositions", release.rows(bdpm.COMPOSITIONS)),
        (GenericGroupMember, "generic_group_members", release.rows(bdpm.GENERIC_GROUPS)),
    ]
    # Without a CIS_CPD file the conditions already stored stay as they are.
    if bdpm.CONDITIONS in release.files:
        replaced.append(
            (PrescribingCondition, "prescribing_conditions", release.rows(bdpm.CONDITIONS))
        )
    for model, _table, _rows in replaced:
        session.execute(
            delete(model).where(model.cis.in_(listed)),
            execution_options={"synchronize_session": False},
        )
    groups = _upsert_groups(session, release.rows(bdpm.GENERIC_GROUPS), say)
    report.counts["generic_groups"] = groups
    for model, table, rows in replaced:
        say(f"Writing {table}")
        if model is GenericGroupMember:
            rows = [{k: v for k, v in row.items() if k != "label"} for row in rows]
        bulk_insert(session, model.__table__, rows)
        report.counts[table] = len(rows)
    # A group none of whose products is left has nothing to substitute.
    session.execute(
        delete(GenericGroup).where(GenericGroup.id.not_in(select(GenericGroupMember.group_id))),
        execution_options={"synchronize_session": False},
    )


def _upsert_groups(session, members: list[dict], say) -> int:
    say("Writing generic_groups")
    labels = {row["group_id"]: row["label"] for row in members}
    existing = set(session.scalars(select(GenericGroup.id)))
    rows = [{"id": group_id, "label": label} for group_id, label in labels.items()]
    _insert_or_update(session, GenericGroup, "id", rows, existing)
    return len(rows)

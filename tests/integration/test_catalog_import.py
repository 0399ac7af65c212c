"""The BDPM import on SQLite and PostgreSQL: full files, re-import, newer release, refusal."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from eprescription import migrate
from eprescription.catalog import bdpm
from eprescription.catalog.importer import ImportReport, import_bdpm
from eprescription.db import get_session
from eprescription.domain.errors import CatalogFileRefused
from eprescription.models import (
    CatalogImport,
    CompositionLine,
    GenericGroup,
    GenericGroupMember,
    PrescribingCondition,
    Presentation,
    Product,
)
from tests.conftest import make_test_app

DEMO_DIR = Path(bdpm.__file__).parent / "demo_bdpm"
FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "bdpm"
NOT_BDPM_DIR = FIXTURES / "not_bdpm"
OVER_LONG_DIR = FIXTURES / "over_long_fields"
TABLE_OF_FILE = {
    bdpm.PRODUCTS: Product,
    bdpm.PRESENTATIONS: Presentation,
    bdpm.COMPOSITIONS: CompositionLine,
    bdpm.GENERIC_GROUPS: GenericGroupMember,
    bdpm.CONDITIONS: PrescribingCondition,
}
# CLAMOXYL 500 mg, gélule: presentations, substances, a generic group and conditions.
AMOXICILLIN_CIS = "67707794"


@pytest.fixture
def session(fresh_database_url):
    """A session on an empty database of the current engine, migrated to head."""
    migrate.upgrade(fresh_database_url)
    app = make_test_app(fresh_database_url)
    with app.app_context():
        yield get_session()
    app.extensions["db_engine"].dispose()


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def table_counts(session) -> dict[str, int]:
    models = [*TABLE_OF_FILE.values(), GenericGroup, CatalogImport]
    return {model.__tablename__: count(session, model) for model in models}


def non_blank_lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())


def assert_tables_hold_every_line_not_skipped(session, directory: Path, report: ImportReport):
    for name, model in TABLE_OF_FILE.items():
        skipped = sum(1 for line in report.skipped if line.file == name)
        assert count(session, model) == non_blank_lines(directory / name) - skipped, name


def test_the_full_bdpm_is_imported_minus_the_reported_lines_and_a_reimport_changes_nothing(
    session, bdpm_dir
):
    report = import_bdpm(session, bdpm_dir)

    assert_tables_hold_every_line_not_skipped(session, bdpm_dir, report)
    reasons = {(line.file, line.line): line.reason for line in report.skipped}
    assert reasons[(bdpm.COMPOSITIONS, 26838)] == "12 columns instead of 8"
    assert reasons[(bdpm.GENERIC_GROUPS, 10004)] == "7 columns instead of 5"
    assert report.counts["products"] == 15676
    assert report.duration_seconds < 60
    first = table_counts(session)

    again = import_bdpm(session, bdpm_dir)

    assert table_counts(session) == {**first, "catalog_imports": 2}
    assert again.new == {"products": 0, "presentations": 0}
    assert again.removed == {"products": 0, "presentations": 0}
    assert again.skipped == report.skipped


def test_the_demo_catalog_imports_without_a_skipped_line(session):
    report = import_bdpm(session, DEMO_DIR)

    assert report.skipped == []
    assert 200 <= report.counts["products"] <= 400
    assert_tables_hold_every_line_not_skipped(session, DEMO_DIR, report)
    amoxicillin = session.get(Product, AMOXICILLIN_CIS)
    assert amoxicillin.is_prescribable
    assert amoxicillin.presentations and amoxicillin.compositions
    group = amoxicillin.generic_memberships[0].group
    assert len(group.members) > 1


def test_a_product_missing_from_a_newer_release_is_kept_and_marked_removed(session, tmp_path):
    import_bdpm(session, DEMO_DIR)
    newer = tmp_path / "newer"
    copy_without_product(DEMO_DIR, newer, AMOXICILLIN_CIS)

    report = import_bdpm(session, newer)

    session.expire_all()
    product = session.get(Product, AMOXICILLIN_CIS)
    assert product.removed_from_bdpm_at is not None
    assert not product.is_prescribable
    assert all(pack.removed_from_bdpm_at is not None for pack in product.presentations)
    assert product.compositions, "an old prescription still shows what it contained"
    assert report.removed == {"products": 1, "presentations": len(product.presentations)}

    import_bdpm(session, DEMO_DIR)

    session.expire_all()
    assert session.get(Product, AMOXICILLIN_CIS).removed_from_bdpm_at is None


def test_a_newer_release_updates_a_price_in_place(session, tmp_path):
    import_bdpm(session, DEMO_DIR)
    pack = session.scalars(
        select(Presentation).where(Presentation.price_cents.between(100, 99999))
    ).first()
    newer = tmp_path / "newer"
    shutil.copytree(DEMO_DIR, newer)
    presentations = newer / bdpm.PRESENTATIONS
    old_price = f"\t{pack.price_cents // 100},{pack.price_cents % 100:02d}\t".encode()
    lines = presentations.read_bytes().split(b"\n")
    lines = [
        line.replace(old_price, b"\t1,234,56\t", 1)
        if f"\t{pack.cip13}\t".encode() in line
        else line
        for line in lines
    ]
    presentations.write_bytes(b"\n".join(lines))

    import_bdpm(session, newer)

    session.expire_all()
    assert session.get(Presentation, pack.cip13).price_cents == 123456
    assert count(session, Presentation) == non_blank_lines(DEMO_DIR / bdpm.PRESENTATIONS)


def test_a_refused_release_changes_nothing(session, tmp_path):
    import_bdpm(session, DEMO_DIR)
    before = table_counts(session)
    broken = tmp_path / "broken"
    shutil.copytree(DEMO_DIR, broken)
    (broken / bdpm.CONDITIONS).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    with pytest.raises(CatalogFileRefused, match="binary"):
        import_bdpm(session, broken)
    with pytest.raises(CatalogFileRefused, match="not a BDPM file"):
        import_bdpm(session, NOT_BDPM_DIR)

    assert table_counts(session) == before


def test_a_field_too_long_for_its_column_skips_its_line_and_not_the_import(session):
    # PostgreSQL would refuse the whole transaction for one value longer than String(512).
    report = import_bdpm(session, OVER_LONG_DIR)

    reasons = {(line.file, line.line): line.reason for line in report.skipped}
    assert reasons[(bdpm.PRODUCTS, 2)] == "field 'name' is 600 characters, at most 512"
    assert reasons[(bdpm.COMPOSITIONS, 2)] == "field 'substance_code' is 18 characters, at most 16"
    assert reasons[(bdpm.GENERIC_GROUPS, 2)].startswith("field 'group_id' is 99,999,999,999")
    assert reasons[(bdpm.PRESENTATIONS, 2)].startswith("field 'price_cents' is 9,999,999,999")
    assert reasons[(bdpm.PRESENTATIONS, 4)] == "date '31/02/2020' is not a valid dd/mm/yyyy date"
    assert_tables_hold_every_line_not_skipped(session, OVER_LONG_DIR, report)
    assert session.get(Product, "60000002") is None
    assert session.get(Product, "60000003").name == "É" * 512
    assert session.scalar(select(CatalogImport.lines_skipped)) == len(report.skipped) == 5


def test_the_cli_reports_the_line_too_long_and_completes(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    app = make_test_app(fresh_database_url)
    try:
        result = app.test_cli_runner().invoke(
            args=["catalog", "import-bdpm", str(OVER_LONG_DIR)], catch_exceptions=False
        )
    finally:
        app.extensions["db_engine"].dispose()

    assert result.exit_code == 0, result.output
    assert "skipped CIS_bdpm.txt:2: field 'name' is 600 characters, at most 512" in result.output
    assert "lines skipped: 5" in result.output


def copy_without_product(source: Path, target: Path, cis: str) -> None:
    """A copy of a release, byte for byte, without the lines of one product."""
    target.mkdir()
    needle = f"\t{cis}\t".encode()
    for path in source.iterdir():
        lines = path.read_bytes().split(b"\n")
        kept = [line for line in lines if not line.startswith(cis.encode()) and needle not in line]
        (target / path.name).write_bytes(b"\n".join(kept))

"""`flask catalog import-bdpm` and `flask catalog make-demo` as an operator runs them."""

from pathlib import Path

import pytest

from eprescription import migrate
from eprescription.catalog import bdpm
from tests.conftest import make_test_app

DEMO_DIR = Path(bdpm.__file__).parent / "demo_bdpm"
FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "bdpm"


@pytest.fixture
def runner(fresh_database_url):
    """A CLI runner on an empty database of the current engine, migrated to head."""
    migrate.upgrade(fresh_database_url)
    app = make_test_app(fresh_database_url)
    yield app.test_cli_runner()
    app.extensions["db_engine"].dispose()


def test_the_import_prints_progress_skipped_lines_and_a_summary(runner):
    result = runner.invoke(args=["catalog", "import-bdpm", str(FIXTURES / "cp1252_crlf")])

    assert result.exit_code == 0, result.output
    assert "Read CIS_bdpm.txt (cp1252): 3 rows" in result.output
    assert "skipped CIS_COMPO_bdpm.txt:4: 12 columns instead of 8" in result.output
    assert "  products: 3 (3 new, 0 removed from the BDPM)" in result.output
    assert "  lines skipped: 4" in result.output


def test_a_refused_import_says_why_and_fails(runner):
    result = runner.invoke(args=["catalog", "import-bdpm", str(FIXTURES / "not_bdpm")])

    assert result.exit_code == 1
    assert "Refused, nothing changed: CIS_bdpm.txt is not a BDPM file" in result.output


def test_make_demo_rebuilds_the_bundled_demo_catalog_byte_for_byte(runner, bdpm_dir, tmp_path):
    result = runner.invoke(args=["catalog", "make-demo", str(bdpm_dir), str(tmp_path)])

    assert result.exit_code == 0, result.output
    for name in bdpm.ALL_FILES:
        assert (tmp_path / name).read_bytes() == (DEMO_DIR / name).read_bytes(), name


def test_conditions_lists_every_condition_and_the_rule_it_was_read_as(runner):
    runner.invoke(args=["catalog", "import-bdpm", str(DEMO_DIR)])

    result = runner.invoke(args=["catalog", "conditions"])

    assert result.exit_code == 0, result.output
    assert "narcotic" in result.output and "stupéfiants" in result.output
    assert "restricted_use" in result.output and "réservé à l'usage HOSPITALIER" in result.output
    assert "specialist" in result.output and "[NEUROLOGIE]" in result.output
    assert ", 0 not read as a rule" in result.output

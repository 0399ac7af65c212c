"""Reading whole BDPM files and releases: quirks of the real files, bad lines, refusals."""

from pathlib import Path

import pytest

from eprescription.catalog import bdpm
from eprescription.catalog.bdpm import SkippedLine, parse_file, read_release
from eprescription.domain.errors import CatalogFileRefused
from eprescription.models import Product

FIXTURES = Path(__file__).parent / "fixtures" / "bdpm"


@pytest.fixture(params=["cp1252_crlf", "mixed_encodings"])
def release(request) -> bdpm.Release:
    return read_release(FIXTURES / request.param)


def products_by_cis(release: bdpm.Release) -> dict[str, dict]:
    return {row["cis"]: row for row in release.rows(bdpm.PRODUCTS)}


def test_each_file_has_its_own_encoding_detected():
    release = read_release(FIXTURES / "mixed_encodings")
    encodings = {name: file.encoding for name, file in release.files.items()}
    assert encodings == {
        bdpm.PRODUCTS: "utf-8",
        bdpm.PRESENTATIONS: "utf-8",
        bdpm.COMPOSITIONS: "cp1252",
        bdpm.GENERIC_GROUPS: "utf-8",
    }


def test_accents_are_read_right_in_windows_1252_and_in_utf_8_with_a_bom(release):
    assert products_by_cis(release)["60000001"]["name"] == "PARACÉTAMOL DÉMO 500 mg, comprimé"


def test_crlf_line_ends_leave_no_carriage_return_in_the_last_field():
    release = read_release(FIXTURES / "cp1252_crlf")
    assert [row["condition"] for row in release.rows(bdpm.CONDITIONS)] == [
        "liste I",
        "réservé à l'usage hospitalier",
    ]
    assert products_by_cis(release)["60000002"]["reinforced_monitoring"] is True


def test_a_price_with_a_thousands_separator_in_a_file_is_read_in_cents(release):
    pack = {row["cip13"]: row for row in release.rows(bdpm.PRESENTATIONS)}["3400930000002"]
    assert (pack["price_cents"], pack["price_with_fees_cents"]) == (146629, 146731)
    assert (pack["dispensing_fees_cents"], pack["reimbursement_rate"]) == (102, 65)
    assert pack["reimbursement_indications"] == "<p>Indication remboursée</p>"


def test_empty_fields_are_read_as_nothing_and_a_missing_last_column_is_tolerated(release):
    pack = {row["cip13"]: row for row in release.rows(bdpm.PRESENTATIONS)}["3400930000003"]
    assert pack["price_cents"] is None
    assert pack["reimbursement_rate"] is None
    assert pack["reimbursement_indications"] == ""
    withdrawn = products_by_cis(release)["60000003"]
    assert withdrawn["authorisation_date"] is None
    assert withdrawn["holders"] == ""


def test_a_withdrawn_product_is_read_with_its_status(release):
    assert products_by_cis(release)["60000003"]["authorisation_status"] == "Autorisation abrogée"


def test_trailing_tabs_are_not_extra_columns(release):
    substances = [row["substance_name"] for row in release.rows(bdpm.COMPOSITIONS)]
    assert substances == [
        "PARACÉTAMOL",
        "AMOXICILLINE TRIHYDRATÉE",
        "AMOXICILLINE ANHYDRE",
        "SUBSTANCE ANCIENNE",
    ]


def test_malformed_lines_and_unknown_products_are_reported_with_file_and_line(release):
    assert release.skipped == [
        SkippedLine(bdpm.PRESENTATIONS, 4, "CIS 99999999 is not in CIS_bdpm.txt"),
        SkippedLine(bdpm.COMPOSITIONS, 4, "12 columns instead of 8"),
        SkippedLine(bdpm.GENERIC_GROUPS, 2, "CIS 65000000 is not in CIS_bdpm.txt"),
        SkippedLine(bdpm.GENERIC_GROUPS, 3, "7 columns instead of 5"),
    ]


def test_a_bad_value_is_reported_as_the_reason_a_line_is_skipped():
    good = "60000001\tNOM\tforme\torale\tAutorisation active\tP\tC\t01/01/2020\t\t\tH\tNon\n"
    bad = good.replace("60000001", "60000002").replace("01/01/2020", "31/02/2020")
    result = parse_file(bdpm.PRODUCTS, (good + bad).encode())
    assert [row["cis"] for _, row in result.rows] == ["60000001"]
    assert result.skipped == [
        SkippedLine(bdpm.PRODUCTS, 2, "date '31/02/2020' is not a valid dd/mm/yyyy date")
    ]


def test_a_file_that_is_not_bdpm_is_refused():
    with pytest.raises(CatalogFileRefused, match=r"CIS_bdpm.txt is not a BDPM file: 3 of 3 lines"):
        read_release(FIXTURES / "not_bdpm")


def test_a_directory_without_cis_bdpm_is_refused(tmp_path):
    with pytest.raises(CatalogFileRefused, match=r"missing CIS_bdpm\.txt"):
        read_release(tmp_path)


def test_a_file_with_a_few_bad_lines_among_good_ones_is_not_refused():
    good = "60000001\tNOM\tforme\torale\tAutorisation active\tP\tC\t01/01/2020\t\t\tH\tNon\n"
    result = parse_file(bdpm.PRODUCTS, (good * 2 + "60000002\tNOM\n").encode())
    assert len(result.rows) == 2
    assert result.skipped == [SkippedLine(bdpm.PRODUCTS, 3, "2 columns instead of 12")]


def test_a_field_too_long_or_too_large_for_its_column_is_a_reported_skipped_line():
    release = read_release(FIXTURES / "over_long_fields")

    assert release.skipped == [
        SkippedLine(bdpm.PRODUCTS, 2, "field 'name' is 600 characters, at most 512"),
        SkippedLine(
            bdpm.PRESENTATIONS, 2, "field 'price_cents' is 9,999,999,999, at most 2,147,483,647"
        ),
        SkippedLine(bdpm.PRESENTATIONS, 4, "date '31/02/2020' is not a valid dd/mm/yyyy date"),
        SkippedLine(bdpm.COMPOSITIONS, 2, "field 'substance_code' is 18 characters, at most 16"),
        SkippedLine(
            bdpm.GENERIC_GROUPS, 2, "field 'group_id' is 99,999,999,999, at most 2,147,483,647"
        ),
    ]
    # The limit counts characters, not bytes: 512 accented letters fit in String(512).
    assert products_by_cis(release)["60000003"]["name"] == "É" * 512


def test_the_limits_of_the_fields_are_those_of_the_model_columns():
    limits = bdpm.field_limits(bdpm.SPECS[bdpm.PRODUCTS])
    assert limits["name"] == Product.__table__.c.name.type.length
    assert limits["holders"] == Product.__table__.c.holders.type.length
    groups = bdpm.field_limits(bdpm.SPECS[bdpm.GENERIC_GROUPS])
    assert "label" not in groups, "a Text column has no length"
    assert groups["group_id"] == 2**31 - 1

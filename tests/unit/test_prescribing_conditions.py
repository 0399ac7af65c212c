"""CIS_CPD conditions read into rules: every distinct text of the June 2022 BDPM, no database."""

from collections import Counter

import pytest

from eprescription.catalog import bdpm
from eprescription.domain.prescribing_conditions import (
    Condition,
    Kind,
    classify,
    classify_all,
    from_json,
    to_json,
)
from tests.conftest import BDPM_DIR
from tests.databases import skip_or_fail

CPD = BDPM_DIR / bdpm.CONDITIONS


@pytest.fixture(scope="module")
def texts() -> Counter:
    if not CPD.is_file():
        skip_or_fail(f"the BDPM files are not at {BDPM_DIR} (set BDPM_DIR)")
    release = bdpm.parse_file(bdpm.CONDITIONS, CPD.read_bytes())
    return Counter(row["condition"] for _, row in release.rows)


def test_every_distinct_condition_text_of_the_2022_release_is_read_as_a_rule(texts):
    unknown = [text for text in texts if classify(text).kind is Kind.UNKNOWN]

    assert len(texts) == 149
    assert unknown == []


def test_the_counts_of_the_issue_are_the_counts_of_the_rules(texts):
    by_kind = Counter()
    for text, count in texts.items():
        by_kind[classify(text).kind] += count

    assert by_kind[Kind.LIST_I] == 10_340
    assert by_kind[Kind.LIST_II] == 1_396
    assert by_kind[Kind.NARCOTIC] == 290
    assert by_kind[Kind.SECURE_FORM] == 461
    assert by_kind[Kind.HOSPITAL_PRESCRIPTION] == 1_131 + 6  # and "médecins hospitaliers"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("liste I", Condition(Kind.LIST_I, "liste I")),
        ("stupéfiants", Condition(Kind.NARCOTIC, "stupéfiants")),
        (
            "prescription limitée à 4 semaines",
            Condition(Kind.DURATION_LIMIT, "prescription limitée à 4 semaines", days=28),
        ),
        (
            "prescription limitée à 7 jours ou 28 jours",
            Condition(Kind.DURATION_LIMIT, "prescription limitée à 7 jours ou 28 jours", days=7),
        ),
        (
            "prescription limitée à 6 mois",
            Condition(Kind.DURATION_LIMIT, "prescription limitée à 6 mois", days=180),
        ),
        (
            "délivrance fractionnée de 14 jours",
            Condition(Kind.FRACTIONED, "délivrance fractionnée de 14 jours", days=14),
        ),
        (
            "prescription réservée aux spécialistes et services NEUROLOGIE",
            Condition(
                Kind.SPECIALIST,
                "prescription réservée aux spécialistes et services NEUROLOGIE",
                specialty="NEUROLOGIE",
            ),
        ),
        (
            "renouvellement de la prescription réservé aux spécialistes en "
            "HEPATO/GASTRO-ENTEROLOGIE",
            Condition(
                Kind.RENEWAL_SPECIALIST,
                "renouvellement de la prescription réservé aux spécialistes en "
                "HEPATO/GASTRO-ENTEROLOGIE",
                specialty="HEPATO/GASTRO-ENTEROLOGIE",
            ),
        ),
        (
            "prescription initiale hospitalière semestrielle",
            Condition(
                Kind.INITIAL_HOSPITAL, "prescription initiale hospitalière semestrielle", days=182
            ),
        ),
        (
            "réservé à l'usage HOSPITALIER",
            Condition(Kind.RESTRICTED_USE, "réservé à l'usage HOSPITALIER"),
        ),
    ],
)
def test_a_condition_is_read_with_its_parameters(text, expected):
    assert classify(text) == expected


def test_a_text_no_pattern_reads_is_kept_as_unknown_never_dropped():
    condition = classify("  délivrance le mardi seulement ")

    assert condition == Condition(Kind.UNKNOWN, "délivrance le mardi seulement")
    assert from_json(to_json([condition])) == (condition,)


def test_a_products_conditions_round_trip_through_the_catalog_column_each_text_once():
    conditions = classify_all(["liste I", "prescription limitée à 4 semaines", "liste I"])

    assert [c.kind for c in conditions] == [Kind.LIST_I, Kind.DURATION_LIMIT]
    assert from_json(to_json(conditions)) == tuple(conditions)
    assert from_json("") == () and from_json(None) == ()

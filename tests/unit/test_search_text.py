"""Search text normalisation: lowercase, no accents, words split on punctuation; strengths."""

from eprescription.catalog.text import (
    normalise,
    query_words,
    search_words,
    strengths,
    without_form,
    words,
)


def test_accents_and_case_are_removed():
    assert normalise("PARACÉTAMOL Gélule") == "paracetamol gelule"


def test_ligatures_are_spelled_out_as_a_keyboard_user_types_them():
    assert normalise("ŒSTRADIOL") == "oestradiol"


def test_punctuation_separates_words_and_numbers_stay_words():
    assert words("DOLIPRANE 1000 mg, comprimé effervescent") == [
        "doliprane",
        "1000",
        "mg",
        "comprime",
        "effervescent",
    ]


def test_a_repeated_word_is_kept_once_in_first_seen_order():
    assert words("AMOXICILLINE/ACIDE CLAVULANIQUE amoxicilline") == [
        "amoxicilline",
        "acide",
        "clavulanique",
    ]


def test_apostrophes_and_hyphens_split_words():
    assert words("chlorhydrate d'amitriptyline, bêta-bloquant") == [
        "chlorhydrate",
        "d",
        "amitriptyline",
        "beta",
        "bloquant",
    ]


def test_a_text_without_letters_or_digits_has_no_words():
    assert words("  -- , ;  ") == []


def test_search_words_split_numbers_from_letters_and_read_decimal_commas():
    assert search_words("VITAMINE B12 0,5 mg/ml, 1g") == [
        "vitamine",
        "b",
        "12",
        "0.5",
        "mg",
        "ml",
        "1",
        "g",
    ]


def test_thousands_written_with_a_space_before_a_unit_are_one_number():
    assert search_words("UVEDOSE 100 000 UI") == ["uvedose", "100000", "ui"]
    assert search_words("DOLIPRANE 500 mg 100 comprimés") == [
        "doliprane",
        "500",
        "mg",
        "100",
        "comprimes",
    ]


def test_a_strength_is_written_in_its_canonical_unit():
    assert strengths("1 g/125 mg") == ["1000mg", "125mg"]
    assert strengths("100 microgrammes") == strengths("100 µg") == ["0.1mg"]
    assert strengths("1000,0 mg") == ["1000mg"]
    assert strengths("2CH à 30CH") == []


def test_a_query_takes_a_number_and_its_unit_as_one_strength_however_typed():
    for typed in (
        "amoxicilline 1g",
        "amoxicilline 1 g",
        "AMOXICILLINE 1000 mg",
        "amoxicilline 1 G",
    ):
        assert query_words(typed) == ["amoxicilline", "1000mg"]
    assert query_words("doliprane 500") == ["doliprane", "500"]
    assert query_words("amoxicilline 500 m") == ["amoxicilline", "500", "m"]


def test_a_product_name_without_its_form():
    assert without_form("AUGMENTIN 500 mg/62,5 mg, comprimé pelliculé") == (
        "AUGMENTIN 500 mg/62,5 mg"
    )

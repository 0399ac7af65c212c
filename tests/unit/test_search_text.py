"""Search text normalisation: lowercase, no accents, words split on punctuation."""

from eprescription.catalog.text import normalise, words


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

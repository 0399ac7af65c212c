"""Which composition line a prescription by DCI names, and which products are combinations."""

from eprescription.catalog.substance_lines import dci_composition, is_combination
from eprescription.models import CompositionLine


def line(code, name, strength, nature, link, id_=None):
    return CompositionLine(
        id=id_,
        cis="60000000",
        substance_code=code,
        substance_name=name,
        strength=strength,
        reference_quantity="un comprimé",
        nature=nature,
        link_number=link,
    )


METFORMINE = [
    line("04442", "METFORMINE", "780 mg", "FT", 1),
    line("24321", "METFORMINE (CHLORHYDRATE DE)", "1000 mg", "SA", 1),
]
AMOXICILLINE = [
    line("05248", "AMOXICILLINE ANHYDRE", "500 mg", "FT", 1),
    line("28165", "AMOXICILLINE TRIHYDRATÉE", "", "SA", 1),
]
PARACETAMOL_CODEINE = [
    line("02202", "PARACÉTAMOL", "500 mg", "SA", 1),
    line("01234", "PHOSPHATE DE CODÉINE HÉMIHYDRATÉ", "30 mg", "SA", 2),
]


def test_the_strength_the_name_states_is_the_one_prescribed():
    chosen = dci_composition("METFORMINE VIATRIS 1000 mg, comprimé pelliculé", METFORMINE)

    assert (chosen.substance_code, chosen.strength) == ("24321", "1000 mg")


def test_otherwise_the_therapeutic_fraction_with_a_strength():
    chosen = dci_composition("AMOXICILLINE ALMUS 500 mg, gélule", AMOXICILLINE)

    assert (chosen.substance_code, chosen.strength) == ("05248", "500 mg")


def test_a_combination_has_no_single_dci():
    assert dci_composition("PARACETAMOL/CODEINE ARROW 500 mg/30 mg", PARACETAMOL_CODEINE) is None


def test_a_combination_is_several_substances_and_a_name_that_shows_one():
    assert is_combination("PARACETAMOL/CODEINE ARROW 500 mg/30 mg, comprimé", PARACETAMOL_CODEINE)
    assert is_combination("DAFALGAN CODEINE, comprimé pelliculé", PARACETAMOL_CODEINE)
    assert not is_combination("SPASFON, comprimé enrobé", PARACETAMOL_CODEINE)
    assert not is_combination("AMOXICILLINE ALMUS 500 mg, gélule", AMOXICILLINE)

"""Canonical JSON follows RFC 8785: the examples of the RFC give the same bytes."""

import json

import pytest

from eprescription.signing.canonical import canonical_json


def test_the_rfc_8785_main_example_is_canonicalized_byte_for_byte():
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )

    canonical = canonical_json(json.loads(source))

    expected = (
        r'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        r'"string":"€$\u000f\nA'
        "'"
        r'B\"\\\\\"/"}'
    )
    assert canonical == expected.encode("utf-8")


def test_keys_are_sorted_by_their_utf16_code_units_as_in_rfc_8785():
    source = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }

    values = list(json.loads(canonical_json(source)).values())

    assert values == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


@pytest.mark.parametrize(
    "number, written",
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (4.5, "4.5"),
        (0.002, "0.002"),
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (333333333.33333329, "333333333.3333333"),
        (9007199254740991, "9007199254740991"),
        (-5, "-5"),
    ],
)
def test_numbers_are_written_the_ecmascript_way(number, written):
    assert canonical_json([number]) == f"[{written}]".encode()


def test_unicode_is_written_as_utf8_and_only_controls_are_escaped():
    assert canonical_json({"name": "Hélène Œ €😀", "tab": "\t\u001f"}) == (
        '{"name":"Hélène Œ €😀","tab":"\\t\\u001f"}'.encode()
    )


def test_there_is_no_whitespace_and_nested_objects_are_sorted_too():
    assert canonical_json({"b": [1, {"z": 1, "a": 2}], "a": None}) == (
        b'{"a":null,"b":[1,{"a":2,"z":1}]}'
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53 + 1, {1: "non-string key"}])
def test_values_json_cannot_carry_exactly_are_refused(value):
    with pytest.raises(ValueError):
        canonical_json({"value": value})

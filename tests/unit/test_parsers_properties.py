"""Property tests: each parser of outside input refuses anything with its documented error, and
never takes longer than a second (hypothesis's deadline), whatever it is given."""

import base64
import contextlib
import importlib
import inspect
import json
import pkgutil
from datetime import UTC, datetime

import marshmallow
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eprescription import qr, schemas
from eprescription.domain import bounded_json, gs1, identifiers, prescription_codes
from eprescription.domain.errors import (
    InvalidGs1Code,
    InvalidIdentifier,
    InvalidPrescriptionNumber,
    InvalidQrCode,
)
from eprescription.signing import certificates, jws
from eprescription.signing.canonical import canonical_json

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CA, CA_KEY = certificates.create_ca("Property CA", NOW)
KEY = certificates.generate_key()
LEAF = certificates.issue_prescriber_certificate(
    CA, CA_KEY, KEY.public_key(), certificates.PrescriberIdentity("A", "B", "10001234565"), NOW
)
LEAF_DER = certificates.to_der(LEAF)
TOKEN = jws.sign_compact(canonical_json({"issued_at": NOW.isoformat()}), KEY, [LEAF, CA])
HEADER, PAYLOAD, SIGNATURE = TOKEN.split(".")

# Within a second each, examples shrunk to what reproduces a failure.
fast = settings(deadline=1000, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
texts = st.text() | st.binary().map(lambda raw: raw.decode("latin-1"))


def _verify(token: str) -> jws.VerificationReport:
    return jws.verify_compact(token, trust_anchors=[CA], now=NOW)


def _token(header: dict, payload: str = PAYLOAD, signature: str = SIGNATURE) -> str:
    return f"{jws.b64url_encode(canonical_json(header))}.{payload}.{signature}"


@fast
@given(st.data())
def test_a_mutated_x5c_certificate_is_reported_never_raised(data):
    der = bytearray(LEAF_DER)
    for _ in range(data.draw(st.integers(1, 6))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    entry = base64.b64encode(bytes(der)).decode()

    report = _verify(
        _token({"alg": "ES256", "x5c": [entry, base64.b64encode(certificates.to_der(CA)).decode()]})
    )

    assert report.checks and (bytes(der) == LEAF_DER or not report.valid)


@fast
@given(st.binary(max_size=600))
def test_any_bytes_as_an_x5c_entry_are_reported_never_raised(raw):
    report = _verify(_token({"alg": "ES256", "x5c": [base64.b64encode(raw).decode()]}))

    assert not report.valid
    assert "x5c" in report.checks[0].detail


@fast
@given(texts)
def test_any_text_as_a_compact_jws_is_reported_never_raised(text):
    report = _verify(text)

    assert not report.valid and report.checks


@fast
@given(json_values, json_values)
def test_any_json_header_and_payload_are_reported_never_raised(header, payload):
    encoded_header = jws.b64url_encode(json.dumps(header).encode())
    encoded_payload = jws.b64url_encode(json.dumps(payload).encode())

    report = _verify(f"{encoded_header}.{encoded_payload}.{SIGNATURE}")

    assert not report.valid


@fast
@given(st.integers(0, 20_000), st.sampled_from(["[", '{"a":']))
def test_jws_parts_nested_deeply_are_reported_never_raised(depth, opener):
    deep = (opener * depth).encode()

    assert not _verify(f"{jws.b64url_encode(deep)}.{PAYLOAD}.{SIGNATURE}").valid
    assert not _verify(f"{HEADER}.{jws.b64url_encode(deep)}.{SIGNATURE}").valid
    assert jws.signing_time(deep) is None


@fast
@given(st.binary(max_size=2000) | st.text().map(str.encode))
def test_bounded_json_raises_only_value_errors(raw):
    with contextlib.suppress(ValueError):
        bounded_json.loads(raw)


@fast
@given(st.integers(1, 100_000))
def test_bounded_json_refuses_deep_nesting_before_parsing(depth):
    text = "[" * depth + "]" * depth
    if depth > bounded_json.DEPTH_MAX:
        with pytest.raises(bounded_json.TooDeep):
            bounded_json.loads(text)
    else:
        assert bounded_json.loads(text) is not None


@fast
@given(texts | st.none())
def test_a_gs1_code_parses_or_is_refused_with_invalid_gs1_code(text):
    with contextlib.suppress(InvalidGs1Code):
        gs1.parse(text)


@fast
@given(st.from_regex(r"\A(\(01\)3400\d{9}|0134\d{11})(\(17\)|17)?\d{0,6}(\(10\)|10)?.{0,30}\Z"))
def test_an_almost_gs1_code_parses_or_is_refused_with_invalid_gs1_code(text):
    with contextlib.suppress(InvalidGs1Code):
        gs1.parse(text)


@fast
@given(texts | st.none())
def test_a_qr_text_decodes_or_is_refused_with_invalid_qr_code(text):
    with contextlib.suppress(InvalidQrCode):
        qr.decode(text)


@fast
@given(st.from_regex(r"\A(?i:ep1)\.[0-9A-Z-]{0,20}\.[0-9A-Za-z_-]{0,40}\s*\Z"))
def test_an_almost_qr_text_decodes_or_is_refused_with_invalid_qr_code(text):
    with contextlib.suppress(InvalidQrCode):
        qr.decode(text)


@fast
@given(texts | st.none(), st.sampled_from(["FR", "EE"]))
def test_a_national_id_validates_or_is_refused_with_invalid_identifier(text, country):
    with contextlib.suppress(InvalidIdentifier):
        identifiers.validate_national_id(text, country)


@fast
@given(st.from_regex(r"\A[0-9AB ]{13,17}\Z"), st.dates())
def test_an_almost_nir_validates_or_is_refused_with_invalid_identifier(text, birth_date):
    try:
        number = identifiers.validate_nir(text)
    except InvalidIdentifier:
        return
    assert isinstance(identifiers.nir_agrees_with_birth_date(number, birth_date), bool)


@fast
@given(texts | st.none())
def test_rpps_and_finess_validate_or_are_refused_with_invalid_identifier(text):
    for validate in (identifiers.validate_rpps, identifiers.validate_finess):
        with contextlib.suppress(InvalidIdentifier):
            validate(text)


@fast
@given(texts | st.none() | st.from_regex(r"\A[0-9A-Z -]{8,16}\Z"))
def test_a_prescription_number_validates_or_is_refused_with_its_error(text):
    try:
        number = prescription_codes.validate_number(text)
    except InvalidPrescriptionNumber:
        return
    assert prescription_codes.validate_number(prescription_codes.display_number(number)) == number


@fast
@given(st.text(max_size=200), st.text(max_size=200))
def test_any_prescriber_name_fits_a_certificate(given_name, family_name):
    name = certificates.PrescriberIdentity(given_name, family_name, "10001234565").common_name

    assert 1 <= len(name) <= certificates.COMMON_NAME_MAX
    full = " ".join(f"{given_name} {family_name}".split())
    if len(full) <= certificates.COMMON_NAME_MAX:
        assert name == (full or "10001234565")


def test_a_name_that_fits_is_kept_whole_and_a_long_one_follows_the_documented_rule():
    assert certificates.fit_common_name("Claire", "Martin") == "Claire Martin"
    assert (
        certificates.fit_common_name("Jean-Pierre Marie " + "X" * 30, "Dupont de Nemours Lafayette")
        == "J.-P. M. X. Dupont de Nemours Lafayette"
    )
    assert certificates.fit_common_name("Anne", "Z" * 80) == "Z" * 63 + "…"


# The schemas the API reads its bodies and queries with (each blp.arguments of eprescription.api).
REQUEST_SCHEMAS = (
    "CardLookupRequestSchema",
    "ConsistencyArgsSchema",
    "DispensationListArgsSchema",
    "DispenseSchema",
    "MedicationDispenseSearchSchema",
    "MedicationRequestSearchSchema",
    "MedicationSearchArgsSchema",
    "MyPrescriptionsArgsSchema",
    "PageArgsSchema",
    "PickupModeSchema",
    "PrescriptionCancelSchema",
    "PrescriptionIssueSchema",
    "PrescriptionListArgsSchema",
    "RenewalAskSchema",
    "RenewalDeclineSchema",
    "RenewalListArgsSchema",
    "RepresentativeInSchema",
    "ReversalSchema",
    "ScanSchema",
    "TokenRequestSchema",
    "VerifyRequestSchema",
)


def _schemas() -> dict[str, type[marshmallow.Schema]]:
    """Every marshmallow schema of eprescription.schemas, by name."""
    found = {}
    for module_info in pkgutil.iter_modules(schemas.__path__):
        module = importlib.import_module(f"{schemas.__name__}.{module_info.name}")
        for name, kind in inspect.getmembers(module, inspect.isclass):
            if issubclass(kind, marshmallow.Schema) and kind.__module__ == module.__name__:
                found[name] = kind
    return found


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
@settings(deadline=1000, max_examples=60)
@given(data=st.data())
def test_each_api_schema_loads_or_refuses_any_json_with_a_validation_error(name, data):
    """Bodies with the schema's own field names (so that each field's parser is reached) and
    any JSON value under each."""
    instance = _schemas()[name]()
    names = [field.data_key or key for key, field in instance.fields.items()]
    body = data.draw(
        st.dictionaries(st.sampled_from(names) | st.text(max_size=6), json_values, max_size=8)
    )
    with contextlib.suppress(marshmallow.ValidationError):
        instance.load(body)

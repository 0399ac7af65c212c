"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme): the bytes that get signed."""

import rfc8785


def canonical_json(obj) -> bytes:
    """The RFC 8785 serialization of `obj`: sorted keys, no spaces, ECMAScript numbers, UTF-8.

    Only JSON types are accepted (dict with str keys, list, str, int, float, bool, None);
    dates and decimals must be turned into strings first, so that what is signed is explicit.
    Anything else, and integers beyond ±2^53, raise `rfc8785.CanonicalizationError`
    (a ValueError).
    """
    return rfc8785.dumps(obj)

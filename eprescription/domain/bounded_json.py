"""JSON from outside read with its nesting bounded before any parser recurses into it."""

import json
import re

DEPTH_MAX = 32  # no document or request of this service nests deeper than a dozen levels
# A JSON string (escapes included); the brackets left once strings are taken out.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class TooDeep(ValueError):
    """Arrays and objects nest deeper than allowed."""


def deeper_than(text: bytes, limit: int = DEPTH_MAX) -> bool:
    """Whether arrays and objects nest in `text` deeper than `limit` (strings skipped), told
    without parsing; a text with no more opening brackets than `limit` is not even walked."""
    if text.count(b"[") + text.count(b"{") <= limit:
        return False
    return depth(text, limit) > limit


def depth(text: bytes, stop_after: int = DEPTH_MAX) -> int:
    """How deep arrays and objects nest in `text` (read as JSON, strings skipped), counted
    without parsing; counting stops once past `stop_after`."""
    level = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b"", text)):
        if bracket.group() in (b"[", b"{"):
            level += 1
            deepest = max(deepest, level)
            if deepest > stop_after:
                break
        else:
            level -= 1
    return deepest


def loads(text: bytes | str, depth_max: int = DEPTH_MAX):
    """json.loads, refusing with TooDeep (a ValueError, as for any text that is not JSON) what
    nests deeper than `depth_max`, before parsing."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if deeper_than(raw, depth_max):
        raise TooDeep(f"JSON nested deeper than {depth_max} levels")
    return json.loads(raw)

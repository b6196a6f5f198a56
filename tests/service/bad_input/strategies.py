"""Hypothesis strategies for hostile input: text with NUL, control characters and lone surrogates,
JSON of the wrong shape, bodies nested too deep or too large, bytes that are not UTF-8."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

CONTROL = st.sampled_from(["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "\n", "\r", "\t", "\x1f"])
SURROGATE = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
PLAIN = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20)

# Every JSON value, nested a little.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | PLAIN,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(PLAIN, children, max_size=3),
    max_leaves=8,
)
NOT_TEXT = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.lists(JSON_VALUES, max_size=2)
    | st.dictionaries(PLAIN, JSON_VALUES, max_size=2)
)


@st.composite
def with_bad_character(
    draw: st.DrawFn, base: str = "", bad: st.SearchStrategy[str] = CONTROL | SURROGATE
) -> str:
    """``base`` (or generated text) with a control character or a lone surrogate inserted."""
    text = base or draw(PLAIN)
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(bad) + text[at:]


@st.composite
def nested(draw: st.DrawFn, min_depth: int, max_depth: int = 5000) -> str:
    """JSON text nested ``min_depth`` or more levels deep (lists or objects)."""
    depth = draw(st.integers(min_depth, max_depth))
    if draw(st.booleans()):
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@st.composite
def huge_text(draw: st.DrawFn, over: int) -> str:
    """A string a little longer than ``over`` characters."""
    return draw(st.sampled_from("xé✓")) * (over + draw(st.integers(1, 4096)))


@st.composite
def badly_encoded(draw: st.DrawFn, document: dict[str, Any]) -> bytes:
    """``document`` as JSON, in an encoding that is not UTF-8 or with invalid UTF-8 bytes inside."""
    text = json.dumps({**document, "name": "Zoë ✓"}, ensure_ascii=False)
    how = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cut", "byte"]))
    if how == "latin-1":
        return text.replace("✓", "").encode("latin-1")
    if how == "cut":  # a multi-byte character cut in half
        raw = text.encode()
        return raw[: raw.index("✓".encode()) + 1] + b'"}'
    if how == "byte":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80"])) + raw[at:]
    return text.encode(how)


def not_json() -> st.SearchStrategy[bytes]:
    """Bytes that are not one JSON document."""
    return st.one_of(
        st.binary(max_size=64).filter(_not_json),
        st.sampled_from([b"", b"{", b'{"type":', b"NaN", b"[1,]", b"{'a': 1}", b'{"a":1}{"b":2}', b"\x00"]),
    )


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False

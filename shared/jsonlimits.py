"""Bounded JSON decoding for everything calsync reads from outside: bus messages and HTTP bodies.

``loads_bounded`` refuses a body that is too large, nested too deep, not UTF-8 or not JSON, each with
a reason, before ``json.loads`` could run into Python's recursion limit (the depth is counted
without recursion). ``unstorable`` finds text PostgreSQL cannot store (NUL, lone surrogates).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

MAX_BYTES: Final = 1024 * 1024
MAX_DEPTH: Final = 32

# A JSON string (possibly unterminated, so the scan stays linear) or one bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
# NUL (also as a JSON escape) and UTF-16 surrogates cannot be stored in PostgreSQL text or jsonb.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JsonRefused(ValueError):
    """A body that is not acceptable JSON; ``str(exc)`` says why, without quoting the input."""


def loads_bounded(body: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Decode ``body`` as JSON, or raise ``JsonRefused`` saying which limit or rule it broke."""
    size = len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JsonRefused(f"body is {size} bytes, more than the limit of {max_bytes}")
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused(f"body is not valid JSON: not UTF-8 at byte {exc.start}") from None
    else:
        text = body
    depth = nesting_depth(text, stop_after=max_depth)
    if depth > max_depth:
        raise JsonRefused(f"body is nested more than {max_depth} levels deep")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # unreachable after the depth check; never let it decide
        raise JsonRefused(f"body is nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        raise JsonRefused(f"body is not valid JSON: {exc}") from None


def nesting_depth(text: str, *, stop_after: int) -> int:
    """The deepest ``[``/``{`` nesting in ``text`` outside strings (counting stops past ``stop_after``)."""
    depth = deepest = 0
    for token in _TOKEN.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


def unstorable(value: str) -> str | None:
    """Why ``value`` cannot be stored as PostgreSQL text, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return f"contains a NUL character at position {found.start()}"
    return f"contains an unpaired UTF-16 surrogate at position {found.start()}"


def first_unstorable(data: Any, *, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """The path and reason of the first key or string in decoded JSON that PostgreSQL cannot store."""
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, str):
            reason = unstorable(value)
            if reason is not None:
                return path or "body", reason
        elif depth < max_depth and isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                key_reason = unstorable(str(key))
                if key_reason is not None:
                    return (path or "body"), f"a field name {key_reason}"
                stack.append((where, item, depth + 1))
        elif depth < max_depth and isinstance(value, list):
            stack.extend(
                (f"{path}.{index}" if path else str(index), item, depth + 1)
                for index, item in enumerate(value)
            )
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")

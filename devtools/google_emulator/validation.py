"""Request validation of the emulated Calendar, driven entirely by the vendored discovery
document: query parameters (known, typed, in enum/range, not repeated unless allowed) and
request bodies (known fields at every nesting level via `$ref`, right JSON types). A problem
comes back as Google's 400 error body (docs/google.md §6); pure, no I/O."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from shared.google import load_calendar_discovery

from .errors import api_error_body

Problem = dict[str, Any]
_INT = re.compile(r"^-?\d+$")


@functools.cache
def _discovery() -> dict[str, Any]:
    return load_calendar_discovery()


@functools.cache
def _methods() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for resource in _discovery()["resources"].values():
        for method in resource.get("methods", {}).values():
            out[method["id"]] = method
    return out


def _invalid_parameter(name: str, message: str) -> Problem:
    return api_error_body(400, "invalidParameter", message, location=name)


def _bad_request(message: str) -> Problem:
    body = api_error_body(400, "badRequest", message)
    body["error"]["status"] = "INVALID_ARGUMENT"
    return body


def _scalar_ok(spec: dict[str, Any], raw: str) -> bool:
    kind, fmt = spec.get("type"), spec.get("format")
    if kind == "boolean":
        return raw in ("true", "false")
    if kind == "integer":
        if not _INT.match(raw):
            return False
        low, high = spec.get("minimum"), spec.get("maximum")
        return (low is None or int(raw) >= int(low)) and (high is None or int(raw) <= int(high))
    if "enum" in spec and raw not in spec["enum"]:
        return False
    if fmt == "date-time":
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return False
        return parsed.tzinfo is not None
    return True


def check_query(method_id: str, items: Iterable[tuple[str, str]]) -> Problem | None:
    """The error for the first query parameter `method_id` does not accept, or None."""
    params = {
        name: spec
        for name, spec in {
            **_discovery()["parameters"],
            **_methods()[method_id].get("parameters", {}),
        }.items()
        if spec.get("location") == "query"
    }
    seen: set[str] = set()
    for name, raw in items:
        spec = params.get(name)
        if spec is None:
            return _bad_request(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                f"Field '{name}' could not be found in request message."
            )
        if name in seen and not spec.get("repeated"):
            return _invalid_parameter(name, f"Parameter {name} must not be repeated.")
        seen.add(name)
        if not _scalar_ok(spec, raw):
            return _invalid_parameter(name, f"Invalid value '{raw}' for parameter {name}.")
    return None


def _type_error(path: str, spec: dict[str, Any], value: Any) -> Problem:
    wanted = spec.get("format") or spec.get("type", "?")
    return _bad_request(f"Invalid value at '{path}' ({wanted.upper()}), {value!r}")


def _json_type_ok(spec: dict[str, Any], value: Any) -> bool:
    kind, fmt = spec.get("type"), spec.get("format")
    if kind == "string" and fmt in ("int64", "uint64"):  # proto JSON: a string or a number
        return (isinstance(value, str) and bool(_INT.match(value))) or (
            isinstance(value, int) and not isinstance(value, bool)
        )
    if kind == "string":
        return isinstance(value, str) and _string_format_ok(fmt, value)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return True  # "any"


def _string_format_ok(fmt: str | None, value: str) -> bool:
    try:
        if fmt == "date":
            date.fromisoformat(value)
        elif fmt == "date-time":  # the offset may be left out when a timeZone is given
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _resolve(spec: dict[str, Any]) -> dict[str, Any]:
    ref = spec.get("$ref")
    return dict(_discovery()["schemas"][ref]) if ref else spec


def check_value(spec: dict[str, Any], value: Any, path: str) -> Problem | None:
    """The error for the first part of `value` that `spec` (a discovery schema) rejects."""
    spec = _resolve(spec)
    if value is None:  # null clears a field (patch) and is accepted everywhere
        return None
    if not _json_type_ok(spec, value):
        return _type_error(path, spec, value)
    if isinstance(value, dict):
        return _check_object(spec, value, path)
    if isinstance(value, list):
        items = spec.get("items", {})
        for index, item in enumerate(value):
            problem = check_value(items, item, f"{path}[{index}]")
            if problem is not None:
                return problem
    return None


def _check_object(spec: dict[str, Any], value: dict[str, Any], path: str) -> Problem | None:
    properties, extra = spec.get("properties", {}), spec.get("additionalProperties")
    for key, item in value.items():
        field_spec = properties.get(key, extra)
        if field_spec is None:
            return _bad_request(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{path}': Cannot find field."
            )
        problem = check_value(field_spec, item, f"{path}.{key}")
        if problem is not None:
            return problem
    return None


def check_body(method_id: str, body: Any) -> Problem | None:
    """The error for the first part of a request body `method_id`'s request schema rejects."""
    request = _methods()[method_id].get("request")
    if request is None:
        return None
    return check_value(request, body, "resource")

"""Checks every emulated Calendar call passes: Bearer token, scope (from the vendored discovery
document), query parameters and JSON body (`validation`), calendar access and role (docs/google.md §6)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from shared.google import load_calendar_discovery

from . import errors, validation
from .errors import Denied
from .records import ROLE_RANK, AccessToken, CalendarData
from .state import EmulatorState


def _method_scopes() -> dict[str, frozenset[str]]:
    doc = load_calendar_discovery()
    out: dict[str, frozenset[str]] = {}
    for resource in doc["resources"].values():
        for method in resource.get("methods", {}).values():
            out[method["id"]] = frozenset(method.get("scopes", []))
    return out


METHOD_SCOPES = _method_scopes()


def authenticate(state: EmulatorState, request: web.Request, method_id: str) -> AccessToken:
    """The caller's access token, or Denied with 401 authError / 403 insufficientPermissions."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Denied(errors.auth_error(missing=True))
    access = state.access_token_for(header[len("Bearer ") :].strip())
    if access is None:
        raise Denied(errors.auth_error(missing=False))
    if not METHOD_SCOPES[method_id] & set(access.scopes):
        raise Denied(errors.insufficient_scopes(method_id))
    problem = validation.check_query(method_id, request.query.items())
    if problem is not None:
        raise Denied(web.json_response(problem, status=400))
    return access


def resolve_calendar(state: EmulatorState, access: AccessToken, raw_id: str, *, write: bool) -> CalendarData:
    """The calendar named in the path ('primary' = the user's own), checked against their role."""
    email = access.grant.email
    cal_id = email if raw_id == "primary" else raw_id
    role = state.role_on(email, cal_id)
    if role is None or cal_id not in state.calendars:
        raise Denied(errors.not_found())
    if write and ROLE_RANK[role] < ROLE_RANK["writer"]:
        raise Denied(errors.required_access_level())
    return state.calendars[cal_id]


async def json_body(request: web.Request, method_id: str) -> dict[str, Any]:
    """The request body, checked against `method_id`'s request schema."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Denied(errors.api_error(400, "parseError", "Parse Error")) from None
    if not isinstance(body, dict):
        raise Denied(errors.api_error(400, "parseError", "Parse Error"))
    problem = validation.check_body(method_id, body)
    if problem is not None:
        raise Denied(web.json_response(problem, status=400))
    return body


__all__ = ["Denied", "authenticate", "json_body", "resolve_calendar"]

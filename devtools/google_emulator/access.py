"""Checks every emulated Calendar call passes: Bearer token, scope (from the vendored discovery
document), calendar access and role, JSON body (google.md §6)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from shared.google import load_calendar_discovery

from . import errors
from .state import ROLE_RANK, AccessToken, CalendarData

if TYPE_CHECKING:
    from .emulator import GoogleEmulator


def _method_scopes() -> dict[str, frozenset[str]]:
    doc = load_calendar_discovery()
    out: dict[str, frozenset[str]] = {}
    for resource in doc["resources"].values():
        for method in resource.get("methods", {}).values():
            out[method["id"]] = frozenset(method.get("scopes", []))
    return out


METHOD_SCOPES = _method_scopes()


def handles_denied(handler: Any) -> Any:
    """Turn a Denied raised by a check into its error response."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except Denied as denied:
            return denied.response
        return response

    return run


class Denied(Exception):
    """Carries the error response a check produced."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def authenticate(emu: GoogleEmulator, request: web.Request, method_id: str) -> AccessToken:
    """The caller's access token, or Denied with 401 authError / 403 insufficientPermissions."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Denied(errors.auth_error(missing=True))
    access = emu.access_token_for(header[len("Bearer ") :].strip())
    if access is None:
        raise Denied(errors.auth_error(missing=False))
    if not METHOD_SCOPES[method_id] & set(access.scopes):
        raise Denied(errors.insufficient_scopes(method_id))
    return access


def resolve_calendar(emu: GoogleEmulator, access: AccessToken, raw_id: str, *, write: bool) -> CalendarData:
    """The calendar named in the path ('primary' = the user's own), checked against their role."""
    email = access.grant.email
    cal_id = email if raw_id == "primary" else raw_id
    role = emu.role_on(email, cal_id)
    if role is None or cal_id not in emu.calendars:
        raise Denied(errors.not_found())
    if write and ROLE_RANK[role] < ROLE_RANK["writer"]:
        raise Denied(errors.required_access_level())
    return emu.calendars[cal_id]


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Denied(errors.api_error(400, "parseError", "Parse Error")) from None
    if not isinstance(body, dict):
        raise Denied(errors.api_error(400, "parseError", "Parse Error"))
    return body

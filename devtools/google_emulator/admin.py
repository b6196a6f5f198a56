"""Admin HTTP API of the emulator (`/_emulator/...`, JSON) so an out-of-process emulator can be
seeded, faulted and inspected: `POST /_emulator/<method>` calls the Python method of the same
name with the JSON body as keyword arguments; `GET /_emulator/<view>` returns state."""

from __future__ import annotations

import dataclasses
import inspect
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .emulator import GoogleEmulator

OPERATIONS = frozenset(
    {
        "add_user",
        "add_calendar",
        "remove_calendar",
        "set_access_role",
        "set_consent",
        "register_redirect_uri",
        "revoke_user",
        "delete_account",
        "restore_account",
        "expire_access_tokens",
        "set_admin_policy",
        "disable_client",
        "set_time_limited",
        "omit_scope_in_token_response",
        "grant_token",
        "fail_next",
        "fail_for",
        "set_latency",
        "drop_connections",
        "clear_faults",
        "reset_stats",
        "invalidate_sync_tokens",
        "drop_next_push",
        "drop_pushes",
        "rotate_risc_key",
        "user_put_event",
        "user_delete_event",
        "send_security_event",
    }
)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _views(emu: GoogleEmulator, request: web.Request) -> dict[str, Any]:
    return {
        "requests": lambda: emu.requests,
        "stats": lambda: {
            "token_calls": emu.token_calls,
            "token_calls_by_grant": dict(emu.token_calls_by_grant),
            "token_inflight_peak": emu.token_inflight_peak,
        },
        "events": lambda: emu.events(request.query["calendar_id"]),
        "channels": lambda: list(emu.channels.values()),
        "pushes": lambda: emu.pushes,
        "revoked_tokens": lambda: emu.revoked_tokens,
        "users": lambda: list(emu.users.values()),
        "urls": lambda: {
            "auth_url": emu.auth_url,
            "token_url": emu.token_url,
            "revoke_url": emu.revoke_url,
            "userinfo_url": emu.userinfo_url,
            "risc_config_url": emu.risc_config_url,
            "jwks_url": emu.jwks_url,
            "calendar_base_url": emu.calendar_base_url,
        },
    }


def admin_routes(emu: GoogleEmulator) -> list[web.RouteDef]:
    async def operate(request: web.Request) -> web.Response:
        op = request.match_info["op"]
        if op not in OPERATIONS:
            return web.json_response({"error": f"unknown operation {op}"}, status=404)
        kwargs = await request.json() if request.can_read_body else {}
        try:
            result = getattr(emu, op)(**kwargs)
            if inspect.isawaitable(result):
                result = await result
        except (TypeError, ValueError, KeyError) as exc:
            return web.json_response({"error": repr(exc)}, status=400)
        return web.json_response({"ok": True, "result": _jsonable(result)})

    async def view(request: web.Request) -> web.Response:
        views = _views(emu, request)
        name = request.match_info["view"]
        if name not in views:
            return web.json_response({"error": f"unknown view {name}"}, status=404)
        return web.json_response(_jsonable(views[name]()))

    async def risc_send(request: web.Request) -> web.Response:
        body = await request.json()
        if "subject" in body:
            subject = body["subject"]
        elif "refresh_token" in body:
            subject = emu.subject_token(body["refresh_token"], body.get("alg", "prefix"))
        else:
            sub = body.get("sub") or emu.users[body["email"]].sub
            subject = emu.subject_iss_sub(sub)
        status = await emu.send_security_event(
            body["receiver_url"],
            body["event_type"],
            subject,
            reason=body.get("reason"),
            jti=body.get("jti"),
            aud=body.get("aud"),
        )
        return web.json_response({"ok": True, "status": status})

    return [
        web.post("/_emulator/risc/send", risc_send),
        web.post("/_emulator/{op}", operate),
        web.get("/_emulator/{view}", view),
    ]

"""Admin HTTP API of the emulator (`/_emulator/...`, JSON, documented in README.md) so an
out-of-process emulator can be seeded, faulted and inspected: `POST /_emulator/<operation>`
calls the state method of that name with the JSON body as keyword arguments; `GET
/_emulator/<view>` returns state. The buttons of the emulator's page (page.py) post the same
operations as HTML forms, answered with a 303 back to the page."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from .channels import Pusher
from .page import PAGE_PATH
from .records import ENDPOINT_PATHS
from .risc import post_set
from .state import EmulatorState

OPERATIONS = frozenset(
    {
        "add_user",
        "add_calendar",
        "remove_calendar",
        "set_access_role",
        "rename_calendar",
        "set_consent",
        "register_redirect_uri",
        "revoke_user",
        "change_password",
        "delete_account",
        "restore_account",
        "expire_access_tokens",
        "set_admin_policy",
        "disable_client",
        "set_time_limited",
        "omit_scope_in_token_response",
        "add_grant",
        "grant_token",
        "fail_next",
        "fail_for",
        "fail_share",
        "rate_limit",
        "set_latency",
        "set_calendar_latency",
        "drop_connections",
        "clear_faults",
        "reset_stats",
        "invalidate_sync_tokens",
        "invalidate_sync_token",
        "drop_next_push",
        "drop_pushes",
        "rotate_risc_key",
        "add_service_account",
        "seed_event",
        "user_put_event",
        "user_delete_event",
    }
)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class BadRequest(Exception):
    """An admin call the emulator cannot answer (missing or unknown argument)."""


def _events(state: EmulatorState, request: web.Request) -> Any:
    calendar_id = request.query.get("calendar_id")
    if not calendar_id:
        raise BadRequest("the calendar_id query parameter is required")
    if calendar_id not in state.calendars:
        raise BadRequest(f"unknown calendar {calendar_id}")
    return state.events(calendar_id)


def _views(state: EmulatorState, request: web.Request) -> dict[str, Callable[[], Any]]:
    return {
        "requests": lambda: state.requests,
        "stats": lambda: {
            "injected": state.faults.injected(),
            "token_calls": state.token_calls,
            "token_calls_by_grant": dict(state.token_calls_by_grant),
            "token_inflight_peak": state.token_inflight_peak,
        },
        "events": lambda: _events(state, request),
        "channels": lambda: list(state.channels.values()),
        "pushes": lambda: state.pushes,
        "revoked_tokens": lambda: state.revoked_tokens,
        "users": lambda: list(state.users.values()),
        "urls": lambda: {name: state.base_url + path for name, path in ENDPOINT_PATHS.items()},
    }


def _target(state: EmulatorState, op: str) -> Callable[..., Any]:
    """The state method (or its fault plan's, or its keys') named `op`."""
    for owner in (state, state.faults, state.keys):
        if hasattr(owner, op):
            method: Callable[..., Any] = getattr(owner, op)
            return method
    raise KeyError(op)


FORM_KEY = web.RequestKey("emulator_form", bool)


def _is_form(request: web.Request) -> bool:
    """An HTML form of the page (answered with a 303 to it); `curl -d '{...}'` sends JSON under the
    form content type, and is answered as JSON."""
    return bool(request.get(FORM_KEY, request.content_type == "application/x-www-form-urlencoded"))


def _form_value(value: str) -> Any:
    return {"true": True, "false": False}.get(value, value)


def _back_to_page(done: str, **extra: Any) -> NoReturn:
    """A form's answer: 303 to the page, which says what happened."""
    query = {"done": done, **{k: str(v) for k, v in extra.items()}}
    raise web.HTTPSeeOther(PAGE_PATH + "?" + urlencode(query))


def _same_origin(request: web.Request) -> bool:
    """A form post from another site (its Origin names another host) is refused."""
    origin = request.headers.get("Origin")
    return origin is None or origin in (f"http://{request.host}", f"https://{request.host}")


async def _arguments(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    raw = await request.text()
    request[FORM_KEY] = _is_form(request) and not raw.lstrip().startswith("{")
    if _is_form(request):
        if not _same_origin(request):
            raise BadRequest("a form from another origin")
        return {k: _form_value(str(v)) for k, v in (await request.post()).items()}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _subject(state: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    if "subject" in body:
        return dict(body["subject"])
    if "refresh_token" in body:
        return state.keys.subject_token(body["refresh_token"], body.get("alg", "prefix"))
    sub = body.get("sub") or state.user(body["email"]).sub
    return state.keys.subject_iss_sub(sub)


def routes(state: EmulatorState, pusher: Pusher) -> list[web.RouteDef]:
    """`POST /_emulator/<operation>`, `POST /_emulator/risc/send`, `GET /_emulator/<view>`."""

    async def operate(request: web.Request) -> web.Response:
        op = request.match_info["op"]
        if op not in OPERATIONS:
            return web.json_response({"error": f"unknown operation {op}"}, status=404)
        try:
            result = _target(state, op)(**await _arguments(request))
        except (BadRequest, TypeError, ValueError, KeyError) as exc:
            if _is_form(request):
                _back_to_page(op, error=repr(exc))
            return web.json_response({"error": repr(exc)}, status=400)
        if _is_form(request):
            _back_to_page(op)
        return web.json_response({"ok": True, "result": _jsonable(result)})

    async def view(request: web.Request) -> web.Response:
        views = _views(state, request)
        name = request.match_info["view"]
        if name not in views:
            return web.json_response({"error": f"unknown view {name}"}, status=404)
        try:
            return web.json_response(_jsonable(views[name]()))
        except BadRequest as exc:
            return web.json_response({"error": str(exc)}, status=400)

    async def risc_send(request: web.Request) -> web.Response:
        try:
            body = await _arguments(request)
            subject = _subject(state, body)
            claims = state.keys.build_set(
                body["event_type"],
                subject,
                reason=body.get("reason"),
                jti=body.get("jti"),
                aud=body.get("aud"),
            )
            receiver = body["receiver_url"]
        except (BadRequest, TypeError, ValueError, KeyError) as exc:
            if _is_form(request):
                _back_to_page("risc/send", error=repr(exc))
            return web.json_response({"error": repr(exc)}, status=400)
        try:
            status = await post_set(pusher.http, receiver, state.keys.sign_set(claims))
        except aiohttp.ClientError as exc:
            if _is_form(request):
                _back_to_page("risc/send", error=f"{receiver} unreachable ({type(exc).__name__})")
            raise
        if _is_form(request):
            _back_to_page(f"risc/send {body['event_type']}", status=status)
        return web.json_response({"ok": True, "status": status})

    async def flush(_: web.Request) -> web.Response:
        await pusher.flush()
        return web.json_response({"ok": True, "result": None})

    return [
        web.post("/_emulator/risc/send", risc_send),
        web.post("/_emulator/flush_pushes", flush),
        web.post("/_emulator/{op}", operate),
        web.get("/_emulator/{view}", view),
    ]

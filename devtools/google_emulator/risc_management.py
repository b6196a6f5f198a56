"""Google's RISC management API as the emulator serves it (docs/google.md §11): `GET /v1beta/stream`,
`POST /v1beta/stream:update`, `GET /v1beta/stream/status`, `POST /v1beta/stream/status:update` and
`POST /v1beta/stream:verify` (which pushes a signed verification event to the receiver). Each call
is authorised by a service-account JWT: RS256 with the key's id as `kid`, `iss` = `sub` = the
account's email, `aud` = the RISC management service, `exp` at most an hour after `iat`. Accounts come
from the state's `add_service_account` (`POST /_emulator/add_service_account`, `--service-account-key`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
from aiohttp import web
from aiohttp.typedefs import Handler

from .channels import Pusher, address_ok
from .keys import EVENT_TYPES
from .records import RiscStream
from .risc import post_set
from .state import EmulatorState

AUDIENCE = "https://risc.googleapis.com/google.identity.risc.v1beta.RiscManagementService"
PUSH_DELIVERY = "https://schemas.openid.net/secevent/risc/delivery-method/push"
MAX_LIFETIME = 3600
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _error(code: int, message: str) -> web.Response:
    """Google's Cloud API error body: `{"error": {"code", "message", "status"}}`."""
    return web.json_response(
        {"error": {"code": code, "message": message, "status": _STATUS[code]}}, status=code
    )


def _authorise(state: EmulatorState, request: web.Request) -> None:
    """A valid Bearer JWT of one of the project's service accounts, or `_Refused` (401)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    invalid = _Refused(401, "Request had invalid authentication credentials.")
    if scheme.lower() != "bearer" or not token:
        raise _Refused(401, "Request is missing required authentication credential.")
    try:
        account = state.service_accounts.get(jwt.get_unverified_header(token).get("kid", ""))
        if account is None:
            raise invalid
        claims = jwt.decode(
            token,
            account.public_key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            options={"require": ["iss", "sub", "aud", "iat", "exp"]},
        )
    except jwt.PyJWTError:
        raise invalid from None
    if not claims["iss"] == claims["sub"] == account.email or claims["exp"] - claims["iat"] > MAX_LIFETIME:
        raise invalid


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "Invalid JSON payload received.") from None
    if not isinstance(body, dict):
        raise _Refused(400, "Invalid JSON payload received.")
    return body


def _stream(state: EmulatorState) -> RiscStream:
    if state.risc_stream is None:
        raise _Refused(404, "Project has no RISC configuration.")
    return state.risc_stream


def _configuration(stream: RiscStream) -> dict[str, Any]:
    return {
        "delivery": {"delivery_method": PUSH_DELIVERY, "url": stream.receiver_url},
        "events_requested": stream.events_requested,
        "events_supported": sorted(EVENT_TYPES.values()),
    }


def _new_stream(state: EmulatorState, body: dict[str, Any]) -> RiscStream:
    delivery = body.get("delivery")
    if not isinstance(delivery, dict) or delivery.get("delivery_method") != PUSH_DELIVERY:
        raise _Refused(400, f"delivery.delivery_method must be {PUSH_DELIVERY}")
    url = delivery.get("url")
    if not isinstance(url, str) or not urlsplit(url).hostname or not address_ok(state, url):
        raise _Refused(403, "The receiver URL must use HTTPS on a domain of the project.")
    events = body.get("events_requested", [])
    supported = set(EVENT_TYPES.values())
    if not isinstance(events, list) or not all(isinstance(e, str) and e in supported for e in events):
        raise _Refused(400, "events_requested names an event type that is not supported.")
    status = state.risc_stream.status if state.risc_stream else "enabled"
    return RiscStream(url, list(events), status)


async def _push(pusher: Pusher, receiver_url: str, token: str) -> None:
    """Deliver once; an unreachable receiver loses the event, as Google's limited retries would."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        await post_set(pusher.http, receiver_url, token)


def routes(state: EmulatorState, pusher: Pusher) -> list[web.RouteDef]:
    """The five RISC management calls under `/v1beta/`."""

    async def get_stream(_: web.Request) -> dict[str, Any]:
        return _configuration(_stream(state))

    async def update_stream(request: web.Request) -> dict[str, Any]:
        state.risc_stream = _new_stream(state, await _body(request))
        return _configuration(state.risc_stream)

    async def get_status(_: web.Request) -> dict[str, Any]:
        return {"status": _stream(state).status}

    async def update_status(request: web.Request) -> dict[str, Any]:
        wanted = (await _body(request)).get("status")
        if wanted not in ("enabled", "disabled"):
            raise _Refused(400, "status must be enabled or disabled.")
        _stream(state).status = str(wanted)
        return {"status": wanted}

    async def verify(request: web.Request) -> dict[str, Any]:
        given = (await _body(request)).get("state", "")
        stream = _stream(state)
        if not isinstance(given, str):
            raise _Refused(400, "state must be a string.")
        if stream.status == "enabled":  # while disabled, nothing is sent or kept
            claims = state.keys.build_set("verification", None, state=given)
            token = state.keys.sign_set(claims)
            pusher.in_background(lambda: _push(pusher, stream.receiver_url, token))
        return {}

    def authorised(call: Callable[[web.Request], Awaitable[dict[str, Any]]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                _authorise(state, request)
                return web.json_response(await call(request))
            except _Refused as exc:
                return _error(exc.code, str(exc))

        return handler

    return [
        web.get("/v1beta/stream", authorised(get_stream)),
        web.post("/v1beta/stream:update", authorised(update_stream)),
        web.get("/v1beta/stream/status", authorised(get_status)),
        web.post("/v1beta/stream/status:update", authorised(update_status)),
        web.post("/v1beta/stream:verify", authorised(verify)),
    ]

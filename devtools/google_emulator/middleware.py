"""Request middleware of the emulator: records every request in the state's log, counts
token-endpoint traffic, then applies the state's fault plan (latency, dropped connections,
injected error replies)."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .errors import fault_response
from .records import RecordedRequest
from .state import EmulatorState

ADMIN_PREFIX = "/_emulator/"


async def simulated_delay(seconds: float) -> None:
    """Hold a response for `seconds` (server latency the emulator imitates on purpose)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    handle = loop.call_later(seconds, wake)
    try:
        await done
    finally:
        handle.cancel()


def _oauth_error(response: web.StreamResponse) -> str | None:
    """The ``error`` of an OAuth JSON error reply, for the request record."""
    raw = response.body if isinstance(response, web.Response) else None
    if response.status < 400 or not isinstance(raw, bytes):
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


async def _apply_faults(state: EmulatorState, request: web.Request, handler: Handler) -> web.StreamResponse:
    delay = state.faults.response_delay(request.path)
    if delay:
        await simulated_delay(delay)
    if state.faults.take_drop(request.path):
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # aiohttp ends the handler quietly on a lost peer
    chance = state.faults.take_random(request.path)
    if chance == "timeout":
        await simulated_delay(state.faults.random.hang_seconds if state.faults.random else 0.0)
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    if isinstance(chance, int):
        return fault_response(request.path, chance, None)
    fault = state.faults.take_fault(request.path)
    if fault is None:
        return await handler(request)
    if fault.body is None:
        return fault_response(request.path, fault.status, fault.reason)
    if isinstance(fault.body, str):
        return web.Response(status=fault.status, text=fault.body)
    return web.json_response(fault.body, status=fault.status)


def fault_middleware(state: EmulatorState) -> Middleware:
    """The middleware recording requests into `state` and applying its faults."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX) or request.path == "/":
            return await handler(request)
        form: dict[str, str] = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = {k: str(v) for k, v in (await request.post()).items()}
        record = RecordedRequest(request.method, request.path, dict(request.query), form)
        state.requests.append(record)
        is_token = request.path == "/token"
        if is_token:
            state.token_calls += 1
            state.token_calls_by_grant[form.get("grant_type", "")] += 1
            state.token_inflight += 1
            state.token_inflight_peak = max(state.token_inflight_peak, state.token_inflight)
        try:
            response = await _apply_faults(state, request, handler)
        finally:
            if is_token:
                state.token_inflight -= 1
        record.status, record.answered_at = response.status, time.perf_counter()
        record.error = _oauth_error(response)
        return response

    return middleware

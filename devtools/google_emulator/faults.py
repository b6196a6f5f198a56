"""Fault injection and request bookkeeping for the Google emulator: one aiohttp middleware
records every request, counts token-endpoint traffic, then applies latency, dropped
connections and injected error replies by path prefix."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import fault_response
from .state import RecordedRequest

ADMIN_PREFIX = "/_emulator/"


@dataclass
class _Fault:
    prefix: str
    status: int
    remaining: int | None  # None = until clear_faults()
    body: Any = None
    reason: str | None = None


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


class FaultsMixin:
    """Python API for faults and inspection; `fault_middleware` applies them."""

    requests: list[RecordedRequest]
    token_calls: int
    token_calls_by_grant: Counter[str]
    token_inflight_peak: int
    _token_inflight: int
    _faults: list[_Fault]
    _latency: dict[str, tuple[float, float]]
    _drops: dict[str, int]

    def _init_faults(self) -> None:
        self.requests = []
        self.token_calls = 0
        self.token_calls_by_grant = Counter()
        self.token_inflight_peak = 0
        self._token_inflight = 0
        self._faults = []
        self._latency = {}
        self._drops = {}

    def fail_next(
        self,
        path_prefix: str,
        status: int,
        *,
        count: int = 1,
        body: Any = None,
        reason: str | None = None,
    ) -> None:
        """Answer the next `count` requests under `path_prefix` with `status` and Google's body."""
        self._faults.append(_Fault(path_prefix, status, count, body, reason))

    def fail_for(self, path_prefix: str, status: int, *, body: Any = None, reason: str | None = None) -> None:
        """Answer every request under `path_prefix` with `status` until `clear_faults()`."""
        self._faults.append(_Fault(path_prefix, status, None, body, reason))

    def set_latency(self, path_prefix: str, seconds: float, *, jitter: float = 0.0) -> None:
        """Delay every response under `path_prefix` by `seconds` plus up to `jitter` more (uniform),
        as a network round trip would; 0 removes the delay. Delayed requests overlap (the handler
        awaits), so concurrent callers see concurrent calls."""
        if seconds <= 0 and jitter <= 0:
            self._latency.pop(path_prefix, None)
        else:
            self._latency[path_prefix] = (max(0.0, seconds), max(0.0, jitter))

    def drop_connections(self, path_prefix: str, count: int = 1) -> None:
        """Close the socket without any response for the next `count` matching requests."""
        self._drops[path_prefix] = self._drops.get(path_prefix, 0) + count

    def clear_faults(self) -> None:
        """Remove every injected failure, latency and connection drop."""
        self._faults.clear()
        self._latency.clear()
        self._drops.clear()

    def reset_stats(self) -> None:
        """Forget recorded requests and token-endpoint counters."""
        self.requests.clear()
        self.token_calls = 0
        self.token_calls_by_grant.clear()
        self.token_inflight_peak = 0

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.startswith(fault.prefix):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _take_drop(self, path: str) -> bool:
        for prefix, left in self._drops.items():
            if path.startswith(prefix) and left > 0:
                self._drops[prefix] = left - 1
                return True
        return False

    def _latency_for(self, path: str) -> float:
        matches = [spec for prefix, spec in self._latency.items() if path.startswith(prefix)]
        if not matches:
            return 0.0
        seconds, jitter = max(matches)
        return seconds + (random.uniform(0.0, jitter) if jitter else 0.0)

    @web.middleware
    async def fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        form: dict[str, str] = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = {k: str(v) for k, v in (await request.post()).items()}
        record = RecordedRequest(request.method, request.path, dict(request.query), form)
        self.requests.append(record)
        is_token = request.path == "/token"
        if is_token:
            self.token_calls += 1
            self.token_calls_by_grant[form.get("grant_type", "")] += 1
            self._token_inflight += 1
            self.token_inflight_peak = max(self.token_inflight_peak, self._token_inflight)
        try:
            response = await self._apply_faults(request, handler)
        finally:
            if is_token:
                self._token_inflight -= 1
        record.status, record.answered_at = response.status, time.perf_counter()
        record.error = _oauth_error(response)
        return response

    async def _apply_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        delay = self._latency_for(request.path)
        if delay:
            await simulated_delay(delay)
        if self._take_drop(request.path):
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp ends the handler quietly on a lost peer
        fault = self._take_fault(request.path)
        if fault is None:
            return await handler(request)
        if fault.body is None:
            return fault_response(request.path, fault.status, fault.reason)
        if isinstance(fault.body, str):
            return web.Response(status=fault.status, text=fault.body)
        return web.json_response(fault.body, status=fault.status)

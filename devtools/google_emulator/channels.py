"""Watch channels of the emulator: events.watch, channels.stop, and the `Pusher` that sends push
notifications in the background like Google's (no body, X-Goog-* headers, 5xx retried), with
drops on demand (docs/google.md §9)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable, Coroutine
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web

from . import errors
from .access import Denied, authenticate, json_body, resolve_calendar
from .middleware import simulated_delay
from .records import CalendarData, Channel, PushRecord
from .state import EmulatorState

DEFAULT_TTL_SECONDS = 604800
RETRY_STATUSES = {500, 502, 503, 504}
RETRY_DELAYS = (0.05, 0.2)


class Pusher:
    """Sends the push notifications of the state's channels; owns the outbound HTTP session."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        state.change_listeners.append(self.calendar_changed)

    async def open(self) -> None:
        self.http = aiohttp.ClientSession()

    async def close(self) -> None:
        """Cancel pending pushes and close the session."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.http is not None:
            await self.http.close()
            self.http = None

    async def flush(self) -> None:
        """Wait until every push scheduled so far has been delivered, retried out or dropped."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def calendar_changed(self, calendar_id: str) -> None:
        now = time.time() * 1000
        for channel in self.state.channels.values():
            live = not channel.stopped and channel.expiration_ms > now
            if live and channel.calendar_id == calendar_id:
                channel.message_number += random.randint(1, 5)
                self.schedule(channel, "exists", channel.message_number)

    def schedule(self, channel: Channel, resource_state: str, number: int) -> None:
        """Send one push in the background (or record it as dropped)."""
        if self.state.faults.take_push_drop():
            self.state.pushes.append(PushRecord(channel.id, resource_state, number, None, dropped=True))
            return
        self.in_background(lambda: self._deliver(channel, resource_state, number))

    def in_background(self, send: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run one delivery in the background (`flush` waits for it, `close` cancels it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # changed from synchronous code with no loop: nobody to notify
            return
        task = loop.create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, channel: Channel, resource_state: str, number: int) -> None:
        headers = {
            "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": resource_state,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Message-Number": str(number),
            "X-Goog-Channel-Expiration": formatdate(channel.expiration_ms / 1000, usegmt=True),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        lock = self._locks.setdefault(channel.id, asyncio.Lock())
        async with lock:  # FIFO per channel: `sync` goes out before later `exists` pings
            status = await self._post_with_retries(channel.address, headers)
        self.state.pushes.append(PushRecord(channel.id, resource_state, number, status))

    async def _post_with_retries(self, address: str, headers: dict[str, str]) -> int | None:
        status: int | None = None
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await simulated_delay(delay)
            try:
                assert self.http is not None
                timeout = aiohttp.ClientTimeout(total=5)
                async with self.http.post(address, headers=headers, timeout=timeout) as resp:
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = None
            if status is not None and status not in RETRY_STATUSES:
                return status
        return status


def address_ok(state: EmulatorState, address: str) -> bool:
    """An address Google would deliver to: HTTPS, or plain http on a host allowed for local runs."""
    parts = urlsplit(address)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (parts.hostname or "") in state.insecure_push_hosts


def _new_channel(
    state: EmulatorState, body: dict[str, Any], cal: CalendarData, raw_id: str, email: str
) -> Channel:
    for name in ("id", "type", "address"):
        if not body.get(name):
            raise Denied(errors.api_error(400, "required", f"Required parameter: {name}"))
    if body["type"] not in ("web_hook", "webhook"):
        raise Denied(errors.api_error(400, "invalid", "Invalid value for: type"))
    if not address_ok(state, body["address"]):
        msg = f"WebHook callback must be HTTPS: {body['address']}"
        raise Denied(errors.api_error(400, "push.webhookUrlNotHttps", msg, domain="push"))
    if body["id"] in state.channels or len(body["id"]) > 64:
        raise Denied(errors.api_error(400, "channelIdNotUnique", "Channel id not unique"))
    token = body.get("token")
    if token is not None and len(token) > 256:
        raise Denied(errors.api_error(400, "invalid", "Channel token too long"))
    raw_ttl = str((body.get("params") or {}).get("ttl", DEFAULT_TTL_SECONDS))
    if not raw_ttl.isdigit():
        raise Denied(errors.api_error(400, "invalid", "Invalid value for: params.ttl"))
    ttl = int(raw_ttl)
    expiration = int(time.time() * 1000) + ttl * 1000
    if body.get("expiration"):
        expiration = min(expiration, int(body["expiration"]))
    uri = f"{state.base_url}/calendar/v3/calendars/{quote(raw_id, safe='@')}/events?alt=json"
    return Channel(body["id"], cal.resource_id, uri, token, body["address"], expiration, cal.id, email)


def routes(state: EmulatorState, pusher: Pusher) -> list[web.RouteDef]:
    """events.watch and channels.stop."""

    async def watch(request: web.Request) -> web.Response:
        access = authenticate(state, request, "calendar.events.watch")
        raw_id = request.match_info["calendarId"]
        cal = resolve_calendar(state, access, raw_id, write=False)
        channel = _new_channel(
            state, await json_body(request, "calendar.events.watch"), cal, raw_id, access.grant.email
        )
        state.channels[channel.id] = channel
        channel.message_number = 1
        pusher.schedule(channel, "sync", 1)
        body = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri,
            "expiration": str(channel.expiration_ms),
        }
        if channel.token is not None:
            body["token"] = channel.token
        return web.json_response(body)

    async def stop(request: web.Request) -> web.Response:
        access = authenticate(state, request, "calendar.channels.stop")
        body = await json_body(request, "calendar.channels.stop")
        channel = state.channels.get(str(body.get("id")))
        if (
            channel is None
            or channel.stopped
            or channel.email != access.grant.email
            or channel.resource_id != body.get("resourceId")
        ):
            msg = f"Channel '{body.get('id')}' not found for project '{secrets.randbelow(10**12)}'"
            raise Denied(errors.api_error(404, "notFound", msg))
        channel.stopped = True
        return web.Response(status=204)

    return [
        web.post("/calendar/v3/calendars/{calendarId}/events/watch", watch),
        web.post("/calendar/v3/channels/stop", stop),
    ]

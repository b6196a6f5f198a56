"""Watch channels of the emulator: events.watch, channels.stop, and push notifications sent in
the background like Google's (no body, X-Goog-* headers, 5xx retried), with drops on demand
(google.md §9)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web

from . import errors
from .access import Denied, authenticate, handles_denied, json_body, resolve_calendar
from .faults import simulated_delay
from .state import CalendarData, Channel, PushRecord

if TYPE_CHECKING:
    from .emulator import GoogleEmulator

DEFAULT_TTL_SECONDS = 604800
RETRY_STATUSES = {500, 502, 503, 504}
RETRY_DELAYS = (0.05, 0.2)


class ChannelsMixin:
    """Channel table, push delivery and the watch/stop handlers."""

    calendars: dict[str, CalendarData]
    base_url: str
    _http: aiohttp.ClientSession | None
    channels: dict[str, Channel]
    pushes: list[PushRecord]
    insecure_push_hosts: set[str]
    _push_tasks: set[asyncio.Task[None]]
    _channel_locks: dict[str, asyncio.Lock]
    _drop_next: int
    _drop_all: bool

    def _init_channels(self) -> None:
        self.channels, self.pushes = {}, []
        self.insecure_push_hosts = {"127.0.0.1", "localhost", "::1"}
        self._push_tasks, self._channel_locks = set(), {}
        self._drop_next, self._drop_all = 0, False

    def drop_next_push(self, count: int = 1) -> None:
        """Lose the next `count` push notifications (Google says they are not 100% reliable)."""
        self._drop_next += count

    def drop_pushes(self, enabled: bool = True) -> None:
        """Lose every push notification until called with False."""
        self._drop_all = enabled

    async def flush_pushes(self) -> None:
        """Wait until every push scheduled so far has been delivered, retried out or dropped."""
        while self._push_tasks:
            await asyncio.gather(*list(self._push_tasks), return_exceptions=True)

    async def _cancel_pushes(self) -> None:
        for task in list(self._push_tasks):
            task.cancel()
        await asyncio.gather(*list(self._push_tasks), return_exceptions=True)

    def _on_calendar_changed(self, calendar_id: str) -> None:
        now = time.time() * 1000
        for channel in self.channels.values():
            live = not channel.stopped and channel.expiration_ms > now
            if live and channel.calendar_id == calendar_id:
                channel.message_number += random.randint(1, 5)
                self._schedule(channel, "exists", channel.message_number)

    def _schedule(self, channel: Channel, state: str, number: int) -> None:
        if self._drop_all or self._drop_next > 0:
            self._drop_next = max(0, self._drop_next - 1)
            self.pushes.append(PushRecord(channel.id, state, number, None, dropped=True))
            return
        try:
            task = asyncio.get_running_loop().create_task(self._deliver(channel, state, number))
        except RuntimeError:  # changed from synchronous code with no loop: nobody to notify
            return
        self._push_tasks.add(task)
        task.add_done_callback(self._push_tasks.discard)

    async def _deliver(self, channel: Channel, state: str, number: int) -> None:
        headers = {
            "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Message-Number": str(number),
            "X-Goog-Channel-Expiration": formatdate(channel.expiration_ms / 1000, usegmt=True),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        lock = self._channel_locks.setdefault(channel.id, asyncio.Lock())
        async with lock:  # FIFO per channel: `sync` goes out before later `exists` pings
            status = await self._post_with_retries(channel.address, headers)
        self.pushes.append(PushRecord(channel.id, state, number, status))

    async def _post_with_retries(self, address: str, headers: dict[str, str]) -> int | None:
        status: int | None = None
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await simulated_delay(delay)
            try:
                assert self._http is not None
                timeout = aiohttp.ClientTimeout(total=5)
                async with self._http.post(address, headers=headers, timeout=timeout) as resp:
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = None
            if status is not None and status not in RETRY_STATUSES:
                return status
        return status

    def _address_ok(self, address: str) -> bool:
        parts = urlsplit(address)
        if parts.scheme == "https":
            return True
        return parts.scheme == "http" and (parts.hostname or "") in self.insecure_push_hosts

    def _new_channel(self, body: dict[str, Any], cal: CalendarData, raw_id: str, email: str) -> Channel:
        for name in ("id", "type", "address"):
            if not body.get(name):
                raise Denied(errors.api_error(400, "required", f"Required parameter: {name}"))
        if body["type"] not in ("web_hook", "webhook"):
            raise Denied(errors.api_error(400, "invalid", "Invalid value for: type"))
        if not self._address_ok(body["address"]):
            msg = f"WebHook callback must be HTTPS: {body['address']}"
            raise Denied(errors.api_error(400, "push.webhookUrlNotHttps", msg, domain="push"))
        if body["id"] in self.channels or len(body["id"]) > 64:
            raise Denied(errors.api_error(400, "channelIdNotUnique", "Channel id not unique"))
        token = body.get("token")
        if token is not None and len(token) > 256:
            raise Denied(errors.api_error(400, "invalid", "Channel token too long"))
        ttl = int((body.get("params") or {}).get("ttl", DEFAULT_TTL_SECONDS))
        expiration = int(time.time() * 1000) + ttl * 1000
        if body.get("expiration"):
            expiration = min(expiration, int(body["expiration"]))
        uri = f"{self.base_url}/calendar/v3/calendars/{quote(raw_id, safe='@')}/events?alt=json"
        return Channel(body["id"], cal.resource_id, uri, token, body["address"], expiration, cal.id, email)

    def channel_routes(self) -> list[web.RouteDef]:
        emu: GoogleEmulator = self  # type: ignore[assignment]

        async def watch(request: web.Request) -> web.Response:
            access = authenticate(emu, request, "calendar.events.watch")
            raw_id = request.match_info["calendarId"]
            cal = resolve_calendar(emu, access, raw_id, write=False)
            channel = self._new_channel(await json_body(request), cal, raw_id, access.grant.email)
            self.channels[channel.id] = channel
            channel.message_number = 1
            self._schedule(channel, "sync", 1)
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
            access = authenticate(emu, request, "calendar.channels.stop")
            body = await json_body(request)
            channel = self.channels.get(str(body.get("id")))
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
            web.post("/calendar/v3/calendars/{calendarId}/events/watch", handles_denied(watch)),
            web.post("/calendar/v3/channels/stop", handles_denied(stop)),
        ]

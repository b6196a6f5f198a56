"""The Calendar v3 calls sync makes on one user's token: the writer's (with sync's ``sendUpdates``
choice), inbound sync's event lists, and the channel keeper's watch-channel calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from shared.google.calendar import GoogleApiError, GoogleCalendar

NOT_FOUND = 404
MAX_LIST_PAGES = 20  # 250 entries a page at most: far more calendars than anyone has


class EventWriter:
    """Insert, get, patch and delete events, resolve calendars and list the writable ones."""

    def __init__(self, calendar: GoogleCalendar, *, send_updates: str) -> None:
        self._calendar, self._send_updates = calendar, send_updates

    async def resolve(self, token: str, calendar_id: str) -> dict[str, Any]:
        return await self._calendar.calendar_get(token, calendar_id)

    async def writable_calendars(self, token: str) -> list[dict[str, Any]]:
        """Every calendarList entry the user may add events to (``minAccessRole=writer``), all pages."""
        entries: list[dict[str, Any]] = []
        page_token: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = await self._calendar.calendar_list(token, page_token, min_access_role="writer")
            entries.extend(page.get("items") or [])
            page_token = page.get("nextPageToken")
            if not page_token:
                break
        return entries

    async def insert(self, token: str, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._calendar.events_insert(token, calendar_id, body, self._send_updates)

    async def get(self, token: str, calendar_id: str, event_id: str) -> dict[str, Any]:
        event = await self._calendar.events_get(token, calendar_id, event_id)
        assert event is not None  # only None on 304, and we send no If-None-Match
        return event

    async def patch(
        self, token: str, calendar_id: str, event_id: str, body: dict[str, Any], etag: str | None
    ) -> dict[str, Any]:
        return await self._calendar.events_patch(
            token, calendar_id, event_id, body, if_match=etag, send_updates=self._send_updates
        )

    async def delete(self, token: str, calendar_id: str, event_id: str) -> None:
        await self._calendar.events_delete(token, calendar_id, event_id, send_updates=self._send_updates)


class EventReader:
    """Read a calendar's events page by page (``events.list``), full or incremental."""

    def __init__(self, calendar: GoogleCalendar, *, page_size: int) -> None:
        self._calendar, self._page_size = calendar, page_size

    def pages(
        self, token: str, calendar_id: str, *, sync_token: str | None = None, time_min: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page, deleted events included; the last one carries ``nextSyncToken``. The same
        parameters for full and incremental lists, as Google requires, apart from the token and
        ``timeMin`` (forbidden with a token)."""
        return self._calendar.events_pages(
            token,
            calendar_id,
            sync_token=sync_token,
            time_min=time_min,
            show_deleted=True,
            max_results=self._page_size,
        )


class WatchChannels:
    """events.watch and channels.stop on one user's token (docs/google.md §9)."""

    def __init__(self, calendar: GoogleCalendar, *, address: str, ttl_seconds: int) -> None:
        self._calendar, self._address, self._ttl = calendar, address, ttl_seconds

    async def watch(self, token: str, calendar_id: str, channel_id: str, secret: str) -> tuple[str, datetime]:
        """Open the channel; Google's resource id and expiration (a string or a number of ms)."""
        answer = await self._calendar.events_watch(
            token, calendar_id, channel_id, self._address, secret, ttl_seconds=self._ttl
        )
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, tz=UTC)
        return str(answer["resourceId"]), expires

    async def stop(self, token: str, channel_id: str, resource_id: str) -> None:
        """Stop the channel; Google's 404 (unknown or expired channel) counts as stopped."""
        try:
            await self._calendar.channels_stop(token, channel_id, resource_id)
        except GoogleApiError as exc:
            if exc.status != NOT_FOUND:
                raise

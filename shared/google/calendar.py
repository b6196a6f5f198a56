"""Outbound adapter for the Google Calendar API v3 (used by sync).

Requests are built by aiogoogle's `GoogleAPI` from the vendored discovery document (URL, verb,
query only; no discovery fetch, no token handling) and sent on the caller's aiohttp session.
Errors become `GoogleApiError` (classified by `classify`, docs/google.md §6) or `GoogleTransportError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiogoogle.resource import GoogleAPI

from . import load_calendar_discovery

__all__ = [
    "GoogleApiError",
    "GoogleCalendar",
    "GoogleTransportError",
    "classify",
    "is_rate_limited",
    "is_retryable",
]


class GoogleApiError(Exception):
    """Google answered with an HTTP error; `reason` is `errors[0].reason` when present and
    `retry_after` the seconds of a `Retry-After` header when Google sent one."""

    def __init__(
        self, status: int, reason: str | None, body: object, retry_after: float | None = None
    ) -> None:
        super().__init__(f"google {status} {reason}")
        self.status, self.reason, self.body = status, reason, body
        self.retry_after = retry_after


class GoogleTransportError(Exception):
    """No usable HTTP answer: connection refused or reset, DNS, or timeout."""


Event = dict[str, Any]  # an event resource, as Google's JSON

_SYNC_INVALID = {"fullSyncRequired", "updatedMinTooLongAgo"}
_RATE = {"rateLimitExceeded", "userRateLimitExceeded"}
_FORBIDDEN = {
    "quotaExceeded": "quota",
    "insufficientPermissions": "insufficient_permissions",
    "requiredAccessLevel": "no_writer_access",
}


def classify(err: Exception) -> str:
    """One of auth, rate_limit, quota, insufficient_permissions, no_writer_access, not_found,
    duplicate, gone, sync_token_invalid, precondition_failed, transient, bad_request."""
    if not isinstance(err, GoogleApiError):
        return "transient"
    status, reason = err.status, err.reason
    if status == 401:
        return "auth"
    if status == 429 or reason in _RATE:
        return "rate_limit"
    if status == 403:
        return _FORBIDDEN.get(reason or "", "bad_request")  # never decide a 403 by status alone
    if status == 404:
        return "not_found"
    if status == 409:
        return "duplicate" if reason == "duplicate" else "transient"  # batch `conflict`: retry
    if status == 410:
        return "sync_token_invalid" if reason in _SYNC_INVALID else "gone"
    if status == 412:
        return "precondition_failed"
    if status == 408 or status >= 500:
        return "transient"
    return "bad_request"


def is_rate_limited(err: Exception) -> bool:
    """403/429 usageLimits rate errors: back off with jitter and retry."""
    return classify(err) == "rate_limit"


def is_retryable(err: Exception) -> bool:
    """Worth retrying later without any change: transient, rate limit or quota."""
    return classify(err) in ("transient", "rate_limit", "quota")


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"raw": raw[:300].decode(errors="replace")}  # proxy HTML, truncated


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header given as a number (an HTTP date is ignored)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86400 else None


def _reason(data: Any) -> str | None:
    err = data.get("error") if isinstance(data, dict) else None
    errs = err.get("errors") if isinstance(err, dict) else None
    first = errs[0] if isinstance(errs, list) and errs and isinstance(errs[0], dict) else {}
    reason = first.get("reason")
    return reason if isinstance(reason, str) else None


class GoogleCalendar:
    """Calendar v3 calls on one long-lived session; every method takes the user's access token."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, *, timeout: float = 10.0) -> None:
        doc = load_calendar_discovery()
        doc["rootUrl"], doc["servicePath"] = base_url if base_url.endswith("/") else base_url + "/", ""
        self._api = GoogleAPI(doc)  # type: ignore[no-untyped-call]  # aiogoogle ships no annotations
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _send(
        self, request: Any, access_token: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        hdrs = {"Authorization": f"Bearer {access_token}", **(headers or {})}
        try:
            async with self._http.request(
                request.method, request.url, json=request.json, headers=hdrs, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GoogleTransportError(f"{type(exc).__name__}: {exc}") from exc
        data = _decode(raw)
        if status >= 400:
            raise GoogleApiError(status, _reason(data), data, retry_after)
        return status, data

    async def _call(
        self, request: Any, access_token: str, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Send `request`; Google's JSON answer (empty on a 204, which its callers ignore)."""
        data: dict[str, Any] = (await self._send(request, access_token, headers))[1]
        return data

    async def calendar_list(
        self, access_token: str, page_token: str | None = None, min_access_role: str | None = None
    ) -> dict[str, Any]:
        """One page of the user's calendar list (`minAccessRole="writer"` for a picker)."""
        req = self._api.calendarList.list(pageToken=page_token, minAccessRole=min_access_role)
        return await self._call(req, access_token)

    async def calendar_get(self, access_token: str, calendar_id: str) -> dict[str, Any]:
        """The user's calendarList entry (id, accessRole, primary); resolves "primary"."""
        return await self._call(self._api.calendarList.get(calendarId=calendar_id), access_token)

    async def events_insert(
        self, access_token: str, calendar_id: str, body: Event, send_updates: str | None = None
    ) -> dict[str, Any]:
        """Create the event (with a client-chosen `id` in `body`, a retry cannot duplicate it)."""
        req = self._api.events.insert(calendarId=calendar_id, sendUpdates=send_updates, json=body)
        return await self._call(req, access_token)

    async def events_get(
        self, access_token: str, calendar_id: str, event_id: str, if_none_match: str | None = None
    ) -> dict[str, Any] | None:
        """The event (cancelled ones included); None when `if_none_match` still matches (304)."""
        headers = {"If-None-Match": if_none_match} if if_none_match else None
        req = self._api.events.get(calendarId=calendar_id, eventId=event_id)
        status, data = await self._send(req, access_token, headers)
        return None if status == 304 else data

    async def events_patch(
        self,
        access_token: str,
        calendar_id: str,
        event_id: str,
        body: Event,
        if_match: str | None = None,
        send_updates: str | None = None,
    ) -> dict[str, Any]:
        """Change only the given fields (null deletes a key); 412 if `if_match` is stale."""
        return await self._write(
            "patch", access_token, calendar_id, event_id, body, if_match, sendUpdates=send_updates
        )

    async def events_update(
        self, access_token: str, calendar_id: str, event_id: str, body: Event, if_match: str | None = None
    ) -> dict[str, Any]:
        """Replace the event (omitted fields are cleared); 412 if `if_match` is stale."""
        return await self._write("update", access_token, calendar_id, event_id, body, if_match)

    async def _write(
        self,
        method: str,
        access_token: str,
        calendar_id: str,
        event_id: str,
        body: Event,
        if_match: str | None,
        **params: Any,
    ) -> dict[str, Any]:
        """Send `events.<method>` conditionally: with `if_match`, Google answers 412 when the event
        changed since."""
        req = getattr(self._api.events, method)(calendarId=calendar_id, eventId=event_id, json=body, **params)
        return await self._call(req, access_token, {"If-Match": if_match} if if_match else None)

    async def events_delete(
        self,
        access_token: str,
        calendar_id: str,
        event_id: str,
        if_match: str | None = None,
        send_updates: str | None = None,
    ) -> None:
        req = self._api.events.delete(calendarId=calendar_id, eventId=event_id, sendUpdates=send_updates)
        await self._call(req, access_token, {"If-Match": if_match} if if_match else None)

    async def events_list(
        self,
        access_token: str,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        private_extended_property: str | None = None,
        show_deleted: bool | None = None,
        time_min: str | None = None,
        max_results: int | None = None,
        single_events: bool | None = None,
    ) -> dict[str, Any]:
        """One page: `items` plus `nextPageToken`, or `nextSyncToken` on the last page."""
        req = self._api.events.list(
            calendarId=calendar_id,
            syncToken=sync_token,
            pageToken=page_token,
            privateExtendedProperty=private_extended_property,
            showDeleted=_flag(show_deleted),
            timeMin=time_min,
            maxResults=max_results,
            singleEvents=_flag(single_events),
        )
        return await self._call(req, access_token)

    async def events_pages(
        self, access_token: str, calendar_id: str, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page of a full or incremental list; the last one carries `nextSyncToken`.

        Pages can be empty while more remain; keep the sync token only after applying all."""
        params.pop("page_token", None)
        page_token: str | None = None
        while True:
            page = await self.events_list(access_token, calendar_id, page_token=page_token, **params)
            yield page
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    async def events_watch(
        self,
        access_token: str,
        calendar_id: str,
        channel_id: str,
        address: str,
        token: str,
        ttl_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Open a push channel; returns id, resourceId, resourceUri and `expiration` (ms)."""
        body: dict[str, Any] = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
        if ttl_seconds is not None:
            body["params"] = {"ttl": str(ttl_seconds)}
        return await self._call(self._api.events.watch(calendarId=calendar_id, json=body), access_token)

    async def channels_stop(self, access_token: str, channel_id: str, resource_id: str) -> None:
        """Stop a push channel (any 2xx is success; callers treat 404 as already stopped)."""
        req = self._api.channels.stop(json={"id": channel_id, "resourceId": resource_id})
        await self._call(req, access_token)

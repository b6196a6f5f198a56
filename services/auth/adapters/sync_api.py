"""Outbound to sync for the settings page's Calendar section: the user's sync health, the calendars
they may write to, and their choice (docs/sync.md, "HTTP API"), on the app's shared HTTP session
with the service token and a short timeout: the page must never hang on sync. The connection test
(a probe write and the push it causes) has a longer one of its own."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp


class SyncUnavailable(Exception):
    """sync did not answer usefully (unreachable, timeout, a 5xx or a malformed body)."""


class SyncRefused(Exception):
    """sync answered with a reason the user can act on; ``code`` is sync's ``error``."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"sync refused: {code} (HTTP {status})")
        self.code, self.status = code, status


class SyncApi:
    """sync's service API, as the settings page needs it."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        base_url: str,
        service_token: str,
        timeout: float,
        test_timeout: float,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {service_token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._test_timeout = aiohttp.ClientTimeout(total=test_timeout)

    async def health(self, user_id: str) -> dict[str, Any]:
        """GET .../sync-health."""
        return await self._call("GET", user_id, "sync-health")

    async def calendars(self, user_id: str) -> dict[str, Any]:
        """GET .../calendars: ``{"calendar_id", "calendars": [...]}``."""
        return await self._call("GET", user_id, "calendars")

    async def choose(self, user_id: str, calendar_id: str) -> dict[str, Any]:
        """PUT .../calendar: ``{"calendar_id"}`` of the concrete calendar now written to."""
        return await self._call("PUT", user_id, "calendar", {"calendar_id": calendar_id})

    async def connection_test(self, user_id: str) -> dict[str, Any]:
        """POST .../connection-test: ``{"calendar_id", "calendar": step, "channel": step}``."""
        return await self._call("POST", user_id, "connection-test", timeout=self._test_timeout)

    async def _call(
        self,
        method: str,
        user_id: str,
        what: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> dict[str, Any]:
        url = f"{self._base_url}/api/v1/users/{quote(user_id, safe='')}/{what}"
        try:
            async with self._http.request(
                method, url, json=body, headers=self._headers, timeout=timeout or self._timeout
            ) as resp:
                data = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SyncUnavailable(f"sync unreachable: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise SyncUnavailable(f"sync answered HTTP {status} without a JSON object")
        if status == 200:
            return data
        code = data.get("error")
        if (400 <= status < 500 or code == "google_unavailable") and isinstance(code, str):
            raise SyncRefused(code, status)
        raise SyncUnavailable(f"sync answered HTTP {status}")

"""The connection test's part in sync (``POST /api/v1/users/{id}/connection-test``, asked by auth's
settings page and API after auth has refreshed the grant): a probe write into the user's destination
calendar that leaves nothing behind (a private, free event with a fresh client-chosen id far in the
future, inserted and deleted at once), then whether the watch channel delivers: a live channel on
that calendar and Google's push for the probe arriving within ``push_wait`` seconds."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from services.sync.adapters import calendar_syncs, channels, user_state
from services.sync.adapters.auth_tokens import AuthTokens
from services.sync.adapters.google_calendar import EventWriter
from services.sync.domain import event_ids, probe
from services.sync.usecases.authorised import NoToken, authorised
from shared.clock import Clock
from shared.google.calendar import GoogleApiError, GoogleTransportError, classify

log = structlog.get_logger(__name__)

PUSH_POLL = 0.1  # seconds between looks at the calendar's last push
DELETE_TRIES = 2
WRITE_FAILURES = {
    "no_writer_access": "not_writable",
    "insufficient_permissions": "needs_consent",
    "not_found": "calendar_gone",
    "bad_request": "google_refused",
    "duplicate": "google_refused",
}  # any other kind (rate limits, quota, 5xx, timeouts): google_unavailable


@dataclass(frozen=True)
class ProbeDeps:
    pool: asyncpg.Pool
    tokens: AuthTokens
    google: EventWriter
    clock: Clock
    source_tag: str
    pushes_on: bool  # SYNC_WEBHOOK_URL is set: channels are made
    push_wait: float  # seconds the probe's push may take


@dataclass(frozen=True)
class Step:
    """One step's result: ``status`` ok, failed or skipped; ``code`` says which way."""

    status: str
    code: str

    def as_json(self) -> dict[str, str]:
        return {"status": self.status, "code": self.code}


async def run(deps: ProbeDeps, user_id: str) -> dict[str, Any]:
    """Both steps for the user: ``{"calendar_id", "calendar": Step, "channel": Step}`` as JSON."""
    async with deps.pool.acquire() as conn:
        row = await user_state.destination(conn, user_id)
    if row is None or row["state"] != "connected":
        return _answer(None, Step("failed", "not_connected"), Step("skipped", "no_probe"))
    calendar_id = row["calendar_id"]
    if calendar_id is None:
        return _answer(None, Step("failed", "no_calendar"), Step("skipped", "no_probe"))
    before = deps.clock.now()
    written = await _probe_write(deps, user_id, calendar_id)
    channel = await _channel(
        deps, user_id, calendar_id, before, probed=written.status == "ok" or written.code == "not_removed"
    )
    log.info("connection_test_done", user_id=user_id, calendar=written.code, channel=channel.code)
    return _answer(calendar_id, written, channel)


def _answer(calendar_id: str | None, calendar: Step, channel: Step) -> dict[str, Any]:
    return {"calendar_id": calendar_id, "calendar": calendar.as_json(), "channel": channel.as_json()}


async def _probe_write(deps: ProbeDeps, user_id: str, calendar_id: str) -> Step:
    """Insert the probe and delete it again (a failed step: why nothing was written, or ``not_removed``)."""
    event_id = event_ids.probe_id(uuid.uuid4().hex)
    body = probe.body(event_id, deps.source_tag, deps.clock.now())
    try:
        await authorised(deps.tokens, user_id, lambda token: deps.google.insert(token, calendar_id, body))
    except NoToken as exc:
        code = "not_connected" if exc.status in ("disconnected", "no_grant") else "google_unavailable"
        return Step("failed", code)
    except (GoogleApiError, GoogleTransportError) as exc:
        log.info("connection_test_write_refused", user_id=user_id, calendar_id=calendar_id, error=str(exc))
        return Step("failed", WRITE_FAILURES.get(classify(exc), "google_unavailable"))
    if not await _remove(deps, user_id, calendar_id, event_id):
        return Step("failed", "not_removed")
    return Step("ok", "written_and_removed")


async def _remove(deps: ProbeDeps, user_id: str, calendar_id: str, event_id: str) -> bool:
    """Delete the probe (404 and 410 count as deleted); False if it is still there."""
    for _ in range(DELETE_TRIES):
        try:
            await authorised(deps.tokens, user_id, lambda t: deps.google.delete(t, calendar_id, event_id))
            return True
        except (GoogleApiError, GoogleTransportError) as exc:
            if classify(exc) in ("not_found", "gone"):
                return True
            error = str(exc)
        except NoToken as exc:
            error = f"no token: {exc.status}"
    log.warning(
        "connection_test_probe_left", user_id=user_id, calendar_id=calendar_id, event_id=event_id, error=error
    )
    return False


async def _channel(
    deps: ProbeDeps, user_id: str, calendar_id: str, before: datetime, *, probed: bool
) -> Step:
    """The channel step: live, and the probe's push seen (``last_push_at`` at or after ``before``)."""
    if not deps.pushes_on:
        return Step("skipped", "pushes_off")
    async with deps.pool.acquire() as conn:
        live = await channels.live_on(conn, user_id, calendar_id, deps.clock.now())
    if not live:
        return Step("failed", "no_channel")
    if not probed:
        return Step("skipped", "no_probe")
    try:
        async with asyncio.timeout(deps.push_wait):
            while True:
                pushed = await calendar_syncs.last_push_at(deps.pool, user_id, calendar_id)
                if pushed is not None and pushed >= before:
                    return Step("ok", "push_received")
                await asyncio.sleep(PUSH_POLL)
    except TimeoutError:
        return Step("failed", "no_push")

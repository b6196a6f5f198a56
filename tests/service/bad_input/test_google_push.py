"""Forged Google Calendar push notifications to sync's ``POST /webhooks/google/calendar``: a live
channel's id with a wrong, missing or mangled token or resource id, made-up channel ids, any
resource state and message number, hostile bodies. Each is ignored (200, an unknown channel, so
that Google stops retrying it) or refused with a clear 4xx, never a 5xx; none causes a Google call
or a sync request. A genuine notification from the emulator afterwards still leads to a sync."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.sync.config import ChannelConfig
from services.sync.entrypoints.webhooks import PATH
from tests.service.sync.support import SyncWorld
from tests.support.helpers import eventually
from tests.support.raw_http import send

from .strategies import PLAIN
from .support import BATCH, OnLoop, assert_clear_refusal, run_property

EMAIL = "alice@example.com"
QUICK = ChannelConfig(interval=0.1, cache_seconds=0.1)
CHECKED = ("X-Goog-Channel-ID", "X-Goog-Channel-Token", "X-Goog-Resource-ID")


@st.composite
def forged_notifications(draw: st.DrawFn, channel: Any) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(headers, body) of a notification that is not the channel's: at least one of its id, token
    and resource id is missing, made up or mangled."""
    genuine = dict(zip(CHECKED, (channel.id, channel.token, channel.resource_id), strict=True))
    wrong = draw(st.sets(st.sampled_from(CHECKED), min_size=1))
    headers = {}
    for name, value in genuine.items():
        how = draw(st.sampled_from(["missing", "made_up", "mangled"])) if name in wrong else "genuine"
        if how == "made_up":
            headers[name] = draw(PLAIN.map(str.strip).filter(value.__ne__))
        elif how in ("mangled", "genuine"):
            headers[name] = value[:-1] + ("0" if value[-1] != "0" else "1") if how == "mangled" else value
    headers["X-Goog-Resource-State"] = draw(st.sampled_from(["exists", "sync", "not_exists"]) | PLAIN)
    headers["X-Goog-Message-Number"] = draw(st.integers().map(str) | PLAIN)
    body = draw(st.sampled_from([b"", b"{}", b"x" * 10_000]) | st.binary(max_size=64))
    return [(k.encode(), v.encode()) for k, v in headers.items()], body


async def test_forged_google_push_notifications_are_ignored_or_refused(world: SyncWorld) -> None:
    """Generated forged notifications: 200 or a clear 4xx each, no Google call and no sync request;
    then the emulator's genuine push for a change still brings an incremental sync."""
    on_loop = OnLoop()
    async with world.start(channels=QUICK) as sync:
        world.add_account("u1", EMAIL)
        calendar_id = await world.connect("u1", EMAIL)
        channel = await eventually(lambda: _live_channel(world))
        await world.emulator.flush_pushes()
        before = await _sync_row(world)
        world.emulator.reset_stats()

        @BATCH
        @given(notification=forged_notifications(channel))
        def ignored_or_refused(notification: tuple[list[tuple[bytes, bytes]], bytes]) -> None:
            headers, body = notification
            answer = on_loop(send(sync.url, "POST", PATH.encode(), headers, body))
            if answer.status != 200:
                assert_clear_refusal(answer.status, answer.content_type, answer.body)

        await run_property(ignored_or_refused)
        assert [r.path for r in world.emulator.requests] == []
        assert await _sync_row(world) == before

        world.emulator.user_put_event(calendar_id, {"id": "afterforgery1", **_hour()})
        await eventually(lambda: _incremental_list(world, calendar_id))


async def _live_channel(world: SyncWorld) -> Any:
    channel_id = await world.db.fetchval("SELECT channel_id FROM sync.watch_channels WHERE state = 'live'")
    assert channel_id is not None
    return world.emulator.state.channels[channel_id]


async def _sync_row(world: SyncWorld) -> dict[str, Any]:
    row = await world.db.fetchrow("SELECT * FROM sync.calendar_syncs WHERE user_id = 'u1'")
    assert row is not None
    return dict(row)


async def _incremental_list(world: SyncWorld, calendar_id: str) -> None:
    path = f"/calendar/v3/calendars/{calendar_id}/events"
    assert any(r.path == path and "syncToken" in r.query for r in world.emulator.requests)


def _hour() -> dict[str, Any]:
    return {"start": {"dateTime": "2030-05-01T10:00:00Z"}, "end": {"dateTime": "2030-05-01T11:00:00Z"}}

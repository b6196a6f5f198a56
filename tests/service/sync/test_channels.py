"""Watch channels and push notifications: the emulator pushes over real HTTP to the running sync.

A channel is made once the calendar's initial full sync (requested when its calendar is resolved)
is done, its ``sync`` push makes it live, an ``exists`` push leads to an incremental sync, renewal
overlaps, and switching calendar, a dead grant and a deleted grant each end it; forged
notifications change nothing and cost no Google call."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from services.sync.config import ChannelConfig
from shared import messages as m
from shared.clock import ManualClock
from shared.web import REGISTRY
from tests.service.sync.support import FAST_INBOUND, Sync, SyncWorld
from tests.service.sync.test_calendar_choice import choose
from tests.support.helpers import eventually

EMAIL, TEAM = "alice@example.com", "team@group.calendar.google.com"
QUICK = ChannelConfig(interval=0.1, cache_seconds=0.1)
WEBHOOK = "/webhooks/google/calendar"


async def _channels(db: asyncpg.Pool, user_id: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch("SELECT * FROM sync.watch_channels WHERE user_id = $1 ORDER BY created_at", user_id)
    )


async def _one_live(db: asyncpg.Pool, user_id: str) -> asyncpg.Record:
    async def check() -> asyncpg.Record:
        rows = await _channels(db, user_id)
        assert len(rows) == 1 and rows[0]["state"] == "live" and rows[0]["resource_id"], rows
        return rows[0]

    return await eventually(check)


async def _sync_row(db: asyncpg.Pool, user_id: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM sync.calendar_syncs WHERE user_id = $1", user_id)
    assert row is not None
    return dict(row)


async def _watched(world: SyncWorld, user_id: str = "u1") -> tuple[str, asyncpg.Record]:
    world.add_account(user_id, EMAIL)
    calendar_id = await world.connect(user_id, EMAIL)
    return calendar_id, await _one_live(world.db, user_id)


def _calls(world: SyncWorld, calendar_id: str) -> list[str]:
    """Google's calls for the calendar's events, in order: ``full`` or ``incremental`` (with a
    syncToken) for each events.list, ``watch`` for each events.watch."""
    events = f"/calendar/v3/calendars/{calendar_id}/events"
    named = {("GET", events): "list", ("POST", events + "/watch"): "watch"}
    calls = [(named.get((r.method, r.path)), r.query) for r in world.emulator.requests]
    return [
        ("incremental" if "syncToken" in query else "full") if name == "list" else name
        for name, query in calls
        if name is not None
    ]


async def _synced_after_push(world: SyncWorld, calendar_id: str, since: int, pushed: datetime | None) -> None:
    """A push arrived after ``pushed`` and an incremental sync followed it (Google's first
    ``since`` calls not counted)."""

    async def check() -> None:
        last_push_at = (await _sync_row(world.db, "u1"))["last_push_at"]
        assert last_push_at is not None and (pushed is None or last_push_at > pushed), last_push_at
        assert "incremental" in _calls(world, calendar_id)[since:], _calls(world, calendar_id)

    await eventually(check)


def _user_changes(world: SyncWorld, calendar_id: str, title: str) -> None:
    world.emulator.user_put_event(calendar_id, {"summary": title, **_hour()})


def _hour() -> dict[str, Any]:
    start = datetime(2030, 5, 1, 10, tzinfo=UTC)
    return {
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
    }


async def _push(sync: Sync, headers: dict[str, str], body: bytes = b"") -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(sync.url + WEBHOOK, headers=headers, data=body) as resp,
    ):
        return resp.status


def _headers(channel: Any, **changes: str) -> dict[str, str]:
    """The headers Google sends for the emulator's ``channel``, with ``changes``."""
    headers = {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Channel-Token": channel.token,
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "7",
    }
    return {**headers, **changes}


async def test_a_channel_is_made_after_the_initial_sync_goes_live_and_pushes_ask_for_a_sync(
    world: SyncWorld,
) -> None:
    async with world.start(channels=QUICK) as sync:
        calendar_id, row = await _watched(world)
        assert _calls(world, calendar_id) == ["full", "watch"]  # no channel before the initial sync
        channel = world.emulator.state.channels[row["channel_id"]]
        assert channel.address == sync.url + WEBHOOK and channel.calendar_id == calendar_id
        assert row["token_hash"] == hashlib.sha256(channel.token.encode()).digest()  # never the token
        assert row["live_at"] is not None and row["grant_id"] == "g-u1"
        assert (await _sync_row(world.db, "u1"))["sync_token"] is not None

        _user_changes(world, calendar_id, "dentist")
        await _synced_after_push(world, calendar_id, 2, None)
        await world.emulator.flush_pushes()
        assert {(p.state, p.status) for p in world.emulator.pushes} == {("sync", 200), ("exists", 200)}


async def test_pushes_right_after_a_run_wait_for_the_pause_and_later_ones_do_not(world: SyncWorld) -> None:
    """A calendar's runs start at least the follow-up pause apart while pushes keep coming: a push
    just after a run is listed once the pause is over; a push after a quiet spell is listed at once."""
    clock = ManualClock(datetime.now(UTC))
    paced = dataclasses.replace(FAST_INBOUND, follow_up_after=timedelta(seconds=10))
    async with world.start(channels=QUICK, clock=clock, inbound=paced):
        calendar_id, _ = await _watched(world)
        synced_at = (await _sync_row(world.db, "u1"))["last_synced_at"]
        _user_changes(world, calendar_id, "dentist")
        await world.emulator.flush_pushes()

        async def paused() -> None:
            row = await _sync_row(world.db, "u1")
            assert row["state"] == "pending" and row["last_push_at"] is not None, row
            assert row["due_at"] == synced_at + timedelta(seconds=10), row

        await eventually(paused)
        assert _calls(world, calendar_id) == ["full", "watch"]
        clock.advance(timedelta(seconds=10))
        await _synced_after_push(world, calendar_id, 2, None)

        clock.advance(timedelta(minutes=5))
        pushed = (await _sync_row(world.db, "u1"))["last_push_at"]
        _user_changes(world, calendar_id, "haircut")
        await _synced_after_push(world, calendar_id, 3, pushed)


async def test_a_dropped_push_on_a_live_channel_is_caught_by_the_safety_net(
    world: SyncWorld, probe: Callable[..., Any]
) -> None:
    """Google loses the notification of a change: no sync follows it, but the safety-net sync lists
    the calendar, announces the change and counts the missed push; the channel stays live."""
    changed = await probe(m.SYNC_EVENTS, "sync.calendar.event.changed")
    clock = ManualClock(datetime.now(UTC))
    async with world.start(channels=QUICK, clock=clock) as sync:
        calendar_id, row = await _watched(world)
        await world.emulator.flush_pushes()
        world.emulator.drop_next_push()
        world.emulator.user_put_event(calendar_id, {"id": "lostpush1", "summary": "dentist", **_hour()})
        await world.emulator.flush_pushes()
        assert world.emulator.pushes[-1].dropped and world.emulator.pushes[-1].state == "exists"
        assert _calls(world, calendar_id) == ["full", "watch"]  # nothing told sync of the change

        clock.advance(timedelta(hours=7))
        event = await changed.next_json()
        assert event["event_id"] == "lostpush1" and _calls(world, calendar_id)[2:] == ["incremental"]
        missed = sync.app[REGISTRY].get_sample_value("calsync_sync_channel_missed_pushes_total")
        assert missed == 1 and (await _one_live(world.db, "u1"))["channel_id"] == row["channel_id"]


async def test_renewal_makes_the_new_channel_first_and_stops_the_old_one_after(world: SyncWorld) -> None:
    """Until Google confirms the old channel's stop, pushes from both count."""
    renewing = ChannelConfig(
        ttl=timedelta(seconds=8), renew_before=timedelta(seconds=6), interval=0.1, cache_seconds=0.1
    )
    async with world.start(channels=renewing) as sync:
        world.emulator.fail_for("/calendar/v3/channels/stop", 503)
        calendar_id, first = await _watched(world)

        async def renewed() -> list[asyncpg.Record]:
            rows = await _channels(world.db, "u1")
            assert rows[0]["state"] == "stopping" and rows[0]["stop_reason"] == "renewed", rows
            assert rows[-1]["state"] == "live", rows
            return rows

        rows = await eventually(renewed)
        assert rows[0]["channel_id"] == first["channel_id"]
        newer = world.emulator.state.channels[rows[-1]["channel_id"]]
        old = world.emulator.state.channels[first["channel_id"]]
        assert not old.stopped
        for channel in (old, newer):
            since, pushed = len(_calls(world, calendar_id)), (await _sync_row(world.db, "u1"))["last_push_at"]
            assert await _push(sync, _headers(channel)) == 200
            await _synced_after_push(world, calendar_id, since, pushed)
        assert old.calendar_id == newer.calendar_id == calendar_id
        world.emulator.clear_faults()

        async def old_stopped() -> None:
            (row,) = [r for r in await _channels(world.db, "u1") if r["channel_id"] == first["channel_id"]]
            assert row["state"] == "stopped" and row["at_google"], dict(row)
            assert world.emulator.state.channels[first["channel_id"]].stopped

        await eventually(old_stopped)
        assert await _push(sync, _headers(old)) == 200  # ignored from now on
        assert sum(1 for r in await _channels(world.db, "u1") if r["state"] == "live") >= 1


async def test_switching_calendar_stops_the_channel_on_the_old_one(
    world: SyncWorld, service_token: str
) -> None:
    async with world.start(channels=QUICK) as sync:
        calendar_id, row = await _watched(world)
        world.emulator.add_calendar(EMAIL, TEAM, "Team")
        assert (await choose(sync.url, service_token, "u1", TEAM))[0] == 200

        async def switched() -> None:
            rows = {r["calendar_id"]: r for r in await _channels(world.db, "u1")}
            assert rows.keys() == {calendar_id, TEAM}, rows
            stopped, new_one = rows[calendar_id], rows[TEAM]
            assert stopped["state"] == "stopped" and stopped["stop_reason"] == "calendar_switched", stopped
            assert stopped["at_google"] and world.emulator.state.channels[row["channel_id"]].stopped
            assert new_one["state"] == "live", new_one

        await eventually(switched)
        assert _calls(world, TEAM) == ["full", "watch"]  # the new channel after the initial sync


async def test_a_dead_grant_stops_its_channels_here_only_and_their_pushes_are_ignored(
    world: SyncWorld,
) -> None:
    async with world.start(channels=QUICK) as sync:
        calendar_id, row = await _watched(world)
        now = datetime.now(UTC)
        dead = m.GrantDisconnected(
            user_id="u1", grant_id="g-u1", reason="revoked", since=now, occurred_at=now
        )
        await world.broker.publish(dead)

        async def stopped_here() -> None:
            (stopped,) = await _channels(world.db, "u1")
            assert stopped["state"] == "stopped" and stopped["at_google"] is False, dict(stopped)

        await eventually(stopped_here)
        assert not world.emulator.state.channels[row["channel_id"]].stopped  # Google was not asked
        before = await _sync_row(world.db, "u1")
        channel = world.emulator.state.channels[row["channel_id"]]
        assert await _push(sync, _headers(channel)) == 200
        assert await _sync_row(world.db, "u1") == before
        assert calendar_id == channel.calendar_id


def _counts(message: dict[str, Any]) -> tuple[str, str, int, int]:
    return message["user_id"], message["grant_id"], message["stopped"], message["abandoned"]


async def test_a_deleted_grant_has_its_channels_stopped_with_its_token_and_auth_told(
    world: SyncWorld, probe: Callable[..., Any]
) -> None:
    """The token comes from a ``for_deleted_grant`` request (the stand-in answers it as auth will
    from the held revocation); a user without channels (here one sync never saw connect) is
    reported at once with none stopped."""
    told = await probe(m.SYNC_EVENTS, "sync.channels.stopped")
    async with world.start(channels=QUICK):
        _, row = await _watched(world)
        await world.broker.publish(m.GrantDeleted(user_id="u2", grant_id="g-u2"))
        assert _counts(await told.next_of_type("channels.stopped")) == ("u2", "g-u2", 0, 0)

        await world.broker.publish(m.GrantDeleted(user_id="u1", grant_id="g-u1"))
        assert _counts(await told.next_of_type("channels.stopped")) == ("u1", "g-u1", 1, 0)
        (stopped,) = await _channels(world.db, "u1")
        assert stopped["state"] == "stopped" and stopped["at_google"], dict(stopped)
        assert world.emulator.state.channels[row["channel_id"]].stopped
        assert world.tokens.deleted_grant_requests == [("u1", "g-u1")]


async def test_forged_notifications_change_nothing_and_call_no_google(world: SyncWorld) -> None:
    async with world.start(channels=QUICK) as sync:
        _, row = await _watched(world)
        channel = world.emulator.state.channels[row["channel_id"]]
        await world.emulator.flush_pushes()
        before = await _sync_row(world.db, "u1")
        world.emulator.reset_stats()
        forged = [
            (_headers(channel, **{"X-Goog-Channel-Token": "guess"}), 403),
            ({k: v for k, v in _headers(channel).items() if k != "X-Goog-Channel-Token"}, 403),
            (_headers(channel, **{"X-Goog-Resource-ID": "another-resource"}), 403),
            (_headers(channel, **{"X-Goog-Channel-ID": "8a0c3f0e-0000-4000-8000-000000000000"}), 200),
        ]
        for headers, status in forged:
            assert await _push(sync, headers) == status, headers
        assert await _push(sync, _headers(channel), body=b"x" * 10_000) == 413
        assert await _sync_row(world.db, "u1") == before
        assert [r.path for r in world.emulator.requests] == []
        assert [dict(r) for r in await _channels(world.db, "u1")] == [dict(row)]


async def test_a_round_with_more_calendars_due_than_one_batch_carries_on_at_once(world: SyncWorld) -> None:
    """Five calendars waiting for a channel, batches of two and 5 minutes between rounds: the
    keeper goes on with the rest at once instead of waiting for the next round."""
    slow = ChannelConfig(interval=300, cache_seconds=0.1, batch=2)
    async with world.start(channels=slow):
        users = [f"u{i}" for i in range(5)]
        for user_id in users:
            world.add_account(user_id, f"{user_id}@example.com")
            await world.connect(user_id, f"{user_id}@example.com")

        async def synced() -> None:
            done = await world.db.fetchval(
                "SELECT count(*) FROM sync.calendar_syncs WHERE sync_token IS NOT NULL"
            )
            assert done == len(users), done

        await eventually(synced)
        # a deleted grant (of a user sync never saw) wakes the keeper: one round, then the rest
        await world.broker.publish(m.GrantDeleted(user_id="other", grant_id="g-other"))

        async def all_live() -> None:
            live = await world.db.fetchval("SELECT count(*) FROM sync.watch_channels WHERE state = 'live'")
            assert live == len(users), live

        await eventually(all_live)

"""sync's part of the connection test (``POST /api/v1/users/{id}/connection-test``): a probe write
into the destination calendar that leaves nothing behind and is never announced as a change, and
whether Google's push for it arrives on the live channel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from services.sync.config import ChannelConfig
from services.sync.domain.event_ids import is_probe, probe_id
from services.sync.domain.probe import body as probe_body
from shared import messages as m
from tests.service.sync.support import START, SyncWorld
from tests.service.sync.test_calendar_choice import choose
from tests.service.sync.test_channels import _hour, _one_live
from tests.support.helpers import eventually

EMAIL, TEAM = "alice@example.com", "team@group.calendar.google.com"
WATCHED = ChannelConfig(interval=0.1, cache_seconds=0.1, test_push_wait=15.0)
DROPPED = ChannelConfig(interval=0.1, cache_seconds=0.1, test_push_wait=1.5)


async def run_test(sync_url: str, service_token: str, user_id: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {service_token}"}) as http,
        http.post(f"{sync_url}/api/v1/users/{user_id}/connection-test") as resp,
    ):
        body: dict[str, Any] = await resp.json()
        return resp.status, body


def probes(world: SyncWorld, calendar_id: str) -> list[dict[str, Any]]:
    """Every probe event Google holds for the calendar (deleted ones too)."""
    return [e for e in world.emulator.events(calendar_id) if is_probe(str(e["id"]))]


async def test_a_working_connection_passes_and_the_probe_leaves_nothing_behind(
    world: SyncWorld, service_token: str, probe: Callable[..., Any]
) -> None:
    """Written and removed, the push arrived; the calendar holds no live probe, and inbound sync
    announces no probe, even one it lists while it exists (the next change announced is the user's own)."""
    world.add_account("u1", EMAIL)
    changes = await probe(m.SYNC_EVENTS, "sync.calendar.event.#")
    async with world.start(channels=WATCHED) as sync:
        calendar_id = await world.connect("u1", EMAIL)
        await _one_live(world.db, "u1")
        status, body = await run_test(sync.url, service_token, "u1")
        assert (status, body) == (
            200,
            {
                "user_id": "u1",
                "calendar_id": calendar_id,
                "calendar": {"status": "ok", "code": "written_and_removed"},
                "channel": {"status": "ok", "code": "push_received"},
            },
        )
        written = probes(world, calendar_id)
        assert len(written) == 1 and written[0]["status"] == "cancelled", written
        # a probe as an events.list between its insert and its delete would show it
        world.emulator.user_put_event(calendar_id, probe_body(probe_id(uuid.uuid4().hex), "calsync", START))
        world.emulator.user_put_event(calendar_id, {"id": "dentist01", "summary": "Dentist", **_hour()})
        first = await changes.next_json(timeout=30)
        assert (first["type"], first["event_id"]) == ("calendar.event.changed", "dentist01"), first
        known = await world.db.fetch("SELECT event_id FROM sync.calendar_events_known")
        assert not [r for r in known if is_probe(r["event_id"])], known


async def test_a_calendar_that_became_read_only_fails_the_write_and_leaves_nothing(
    world: SyncWorld, service_token: str
) -> None:
    """The chosen shared calendar's owner made the user a reader: the write fails in plain terms
    (not_writable), nothing is written, and the channel cannot be checked without a probe."""
    world.add_account("u1", EMAIL)
    world.emulator.add_calendar(EMAIL, TEAM, "Team", access_role="writer")
    async with world.start(channels=WATCHED) as sync:
        await world.connect("u1", EMAIL)
        assert (await choose(sync.url, service_token, "u1", TEAM))[0] == 200
        await eventually(lambda: _live_on(world, TEAM))
        world.emulator.set_access_role(EMAIL, TEAM, "reader")
        status, body = await run_test(sync.url, service_token, "u1")
    assert status == 200 and body["calendar_id"] == TEAM
    assert body["calendar"] == {"status": "failed", "code": "not_writable"}
    assert body["channel"] == {"status": "skipped", "code": "no_probe"}
    assert probes(world, TEAM) == []


async def _live_on(world: SyncWorld, calendar_id: str) -> None:
    rows = await world.db.fetch(
        "SELECT state FROM sync.watch_channels WHERE calendar_id = $1 AND state = 'live'", calendar_id
    )
    assert rows


async def test_a_lost_push_fails_the_channel_step(world: SyncWorld, service_token: str) -> None:
    """Google's pushes for the probe are lost: the write passes, the channel step says no push came."""
    world.add_account("u1", EMAIL)
    async with world.start(channels=DROPPED) as sync:
        await world.connect("u1", EMAIL)
        await _one_live(world.db, "u1")
        world.emulator.drop_next_push(2)  # the insert's and the delete's
        status, body = await run_test(sync.url, service_token, "u1")
    assert status == 200
    assert body["calendar"] == {"status": "ok", "code": "written_and_removed"}
    assert body["channel"] == {"status": "failed", "code": "no_push"}


async def test_a_channel_google_never_confirmed_is_not_live(world: SyncWorld, service_token: str) -> None:
    """Google's pushes never reach the webhook (not even the channel's first one): the channel step
    says there is no live channel."""
    world.add_account("u1", EMAIL)
    world.emulator.drop_pushes()
    async with world.start(channels=DROPPED) as sync:
        await world.connect("u1", EMAIL)
        await eventually(lambda: _watched(world))
        status, body = await run_test(sync.url, service_token, "u1")
    assert status == 200 and body["calendar"]["status"] == "ok"
    assert body["channel"] == {"status": "failed", "code": "no_channel"}


async def _watched(world: SyncWorld) -> None:
    """events.watch has answered (the channel has Google's resource id), but no push came."""
    rows = await world.db.fetch("SELECT state, resource_id FROM sync.watch_channels WHERE user_id = 'u1'")
    assert rows and all(r["state"] == "creating" and r["resource_id"] for r in rows), rows


async def test_without_pushes_or_connection_the_steps_say_why(world: SyncWorld, service_token: str) -> None:
    """Pushes off (no SYNC_WEBHOOK_URL): the channel step is skipped; an unknown user is not connected."""
    world.add_account("u1", EMAIL)
    async with world.start() as sync:
        await world.connect("u1", EMAIL)
        _, body = await run_test(sync.url, service_token, "u1")
        assert body["calendar"]["status"] == "ok"
        assert body["channel"] == {"status": "skipped", "code": "pushes_off"}
        _, nobody = await run_test(sync.url, service_token, "nobody")
        assert nobody["calendar"] == {"status": "failed", "code": "not_connected"}
        assert nobody["channel"] == {"status": "skipped", "code": "no_probe"}
    assert all(e["status"] == "cancelled" for e in probes(world, EMAIL))

"""The consumer rules every service relies on, exercised through sync's appointment consumer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg

from services.sync.app import create_app
from services.sync.config import SyncConfig
from shared import messages as m
from shared.amqp import Broker
from shared.config import GoogleConfig
from tests.conftest import Parked
from tests.support.helpers import eventually, serve

GOOGLE = GoogleConfig(client_id="c", client_secret="s")


def appointment(appointment_id: str = "a-1", version: int = 1, **changes: Any) -> m.AppointmentCreated:
    fields: dict[str, Any] = {
        "appointment_id": appointment_id,
        "version": version,
        "owner_user_id": "u-1",
        "account_id": "acc-1",
        "title": "Beratung",
        "start": {"date_time": "2026-03-02T09:00:00+01:00", "time_zone": "Europe/Berlin"},
        "end": {"date_time": "2026-03-02T10:00:00+01:00", "time_zone": "Europe/Berlin"},
    }
    fields.update(changes)
    return m.AppointmentCreated(**fields)


async def stored_versions(db: asyncpg.Pool) -> dict[str, int]:
    rows = await db.fetch("SELECT appointment_id, version FROM sync.appointments")
    return {r["appointment_id"]: r["version"] for r in rows}


async def test_malformed_message_is_dead_lettered_and_next_is_processed(
    common_config: Callable[..., Any], broker: Broker, clean_db: asyncpg.Pool, parked: Parked
) -> None:
    """A malformed message lands in the dead-letter queue with its reason; the next good one is stored."""
    app = create_app(SyncConfig(common=common_config("sync"), google=GOOGLE))
    async with serve(app):
        await broker.publish_raw(
            m.PLATFORM_EVENTS,
            "platform.appointment.created",
            b'{"type": "appointment.created"}',
            message_id="bad-1",
        )
        await broker.publish(appointment("a-good"))

        async def good_stored() -> None:
            assert await stored_versions(clean_db) == {"a-good": 1}

        await eventually(good_stored)
        dead = await parked("sync.appointments")
    assert dead[0].message_id == "bad-1"
    reason = str(dead[0].headers["x-calsync-reason"])
    assert reason.startswith("invalid message:") and "appointment_id: Field required" in reason


async def test_redelivered_message_has_one_effect(
    common_config: Callable[..., Any], broker: Broker, clean_db: asyncpg.Pool
) -> None:
    """Publishing one message id twice records one processing and keeps the newest version."""
    app = create_app(SyncConfig(common=common_config("sync"), google=GOOGLE))
    async with serve(app):
        first = appointment("a-1", version=2)
        await broker.publish(first)
        await broker.publish(first)
        await broker.publish(appointment("a-1", version=1))  # older: ignored

        async def processed_three() -> None:
            count = await clean_db.fetchval("SELECT count(*) FROM sync.processed_messages")
            assert count == 2
            assert await stored_versions(clean_db) == {"a-1": 2}

        await eventually(processed_three)


def _with(body: dict[str, Any], **changes: Any) -> bytes:
    return json.dumps({**body, **changes}).encode()


async def test_messages_that_can_never_succeed_are_dead_lettered_at_once(
    common_config: Callable[..., Any], broker: Broker, clean_db: asyncpg.Pool, dead_letters: Any
) -> None:
    """A NUL in a text, a version beyond the database column and deep nesting are dead-lettered on
    the first attempt with the field named, while the next good message is stored."""
    good = json.loads(appointment("a-x").to_json())
    bad = {
        "bad-nul": (_with(good, title="Bera\x00tung"), "title: Value error, contains a NUL character"),
        "bad-version": (_with(good, version=2**31), "version: Input should be less than or equal to"),
        "bad-deep": (
            _with(good)[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "body is nested more than 16 levels deep",
        ),
    }
    # Retries would take minutes with these delays, so a retried message could not be dead by now.
    common = common_config("sync", retry_delays_ms=(60_000, 60_000))
    app = create_app(SyncConfig(common=common, google=GOOGLE))
    async with serve(app):
        for message_id, (body, _) in bad.items():
            await broker.publish_raw(
                m.PLATFORM_EVENTS, "platform.appointment.created", body, message_id=message_id
            )
        await broker.publish(appointment("a-good"))

        async def good_stored() -> None:
            assert await stored_versions(clean_db) == {"a-good": 1}

        await eventually(good_stored)
        found: list[Any] = []

        async def all_dead() -> None:
            found.extend(await dead_letters("sync.appointments"))
            assert len(found) == len(bad)

        await eventually(all_dead)
    for dead in found:
        body, expected = bad[str(dead.message_id)]
        headers = dict(dead.headers)
        reason = str(headers["x-calsync-reason"])
        assert reason.startswith("invalid message:") and expected in reason, reason
        assert "x-calsync-last-error" not in headers and int(headers.get("x-calsync-attempt", 1)) == 1
        assert dead.body == body

"""The consumer rules every service relies on, exercised through sync's appointment consumer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from services.sync.app import create_app
from services.sync.config import SyncConfig
from shared import messages as m
from shared.amqp import Broker
from shared.config import GoogleConfig
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
    common_config: Callable[..., Any], broker: Broker, clean_db: asyncpg.Pool, dead_letters: Any
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
        dead = await eventually(lambda: _nonempty(dead_letters("sync.appointments")))
    assert dead[0].message_id == "bad-1"
    reason = str(dead[0].headers["x-calsync-reason"])
    assert reason.startswith("invalid message:") and "appointment_id: Field required" in reason


async def _nonempty(coro: Any) -> list[Any]:
    items = await coro
    assert items
    return list(items)


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

"""The transactional outbox loses nothing when the process dies between commit and publish."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from shared import messages as m
from tests.support.helpers import eventually, serve
from tests.support.service_apps import build_app


async def test_event_committed_before_a_crash_is_published_after_restart(
    common_config: Callable[..., Any], database_url: str, clean_db: asyncpg.Pool, probe: Any, emulator: Any
) -> None:
    """An event committed by a process that was then killed is published once the service runs again."""
    message_id = uuid.uuid4().hex
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.shared.outbox_writer", database_url, message_id
    )
    assert await asyncio.wait_for(process.wait(), 30) == -9  # SIGKILL: no clean shutdown
    unsent = await clean_db.fetchval("SELECT count(*) FROM sync.outbox WHERE sent_at IS NULL")
    assert unsent == 1

    events = await probe(m.SYNC_EVENTS, "sync.calendar.selected")
    async with serve(build_app("sync", common_config("sync"), emulator)):
        published = await events.next_json(timeout=10)

        async def marked_sent() -> None:
            assert await clean_db.fetchval("SELECT count(*) FROM sync.outbox WHERE sent_at IS NULL") == 0

        await eventually(marked_sent)
    assert published["message_id"] == message_id
    assert published["type"] == "calendar.selected"

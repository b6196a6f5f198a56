"""A process that commits a state change with its outbox event and is killed before relaying it.

Run by test_outbox_crash.py as ``python -m tests.integration.shared.outbox_writer DSN MESSAGE_ID``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import services.sync
from shared import db, messages, outbox


async def main(dsn: str, message_id: str) -> None:
    pool = await db.create_pool(dsn, schema="sync", application_name="crash-test")
    await db.migrate(pool, "sync", [db.SHARED_MIGRATIONS, Path(services.sync.__file__).parent / "migrations"])
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(
            conn, messages.CalendarSelected(message_id=message_id, user_id="u-1", calendar_id="c")
        )
    os.kill(os.getpid(), signal.SIGKILL)  # dies after the commit, before any relay could publish


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

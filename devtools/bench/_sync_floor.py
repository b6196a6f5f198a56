"""The bare floor of the sync benchmark, in its own process (``python -m devtools.bench._sync_floor``):
the irreducible work per appointment and nothing else: consume it from RabbitMQ, one events.insert
call to the emulator, one database commit, ack. Settings come from ``FLOOR_*`` variables; the
calendar URL and the accounts' tokens from the ``FLOOR_SETUP`` file, read at the first message
(the process starts before the emulator is seeded)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import aiohttp
import asyncpg
from aio_pika.abc import AbstractIncomingMessage

from services.sync.domain import event_ids, mapping
from shared import messages as m

RULES = mapping.MappingRules()
TABLE = "bench_floor"


async def serve() -> None:
    prefetch = int(os.environ["FLOOR_PREFETCH"])
    setup: dict[str, Any] = {}
    pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=1, max_size=prefetch)
    await pool.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (appointment_id text PRIMARY KEY, version integer NOT NULL,"
        " event_id text NOT NULL, etag text NOT NULL)"
    )
    connection = await aio_pika.connect(os.environ["FLOOR_AMQP_URL"])
    http = aiohttp.ClientSession()
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.declare_queue(
        os.environ["FLOOR_QUEUE"], durable=True, arguments={"x-queue-type": "quorum"}
    )

    async def on_message(incoming: AbstractIncomingMessage) -> None:
        if not setup:
            setup.update(json.loads(Path(os.environ["FLOOR_SETUP"]).read_text()))  # noqa: ASYNC240 - once
        appointment = m.AppointmentCreated.model_validate_json(incoming.body)
        email, token = setup["accounts"][appointment.owner_user_id]
        body = mapping.insert_body(
            appointment, RULES, event_ids.event_id(appointment.appointment_id, email, 0)
        )
        url = f"{setup['calendar_base']}calendars/{quote(email, safe='')}/events"
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(url, json=body, params={"sendUpdates": "none"}, headers=headers) as resp:
            event = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"insert answered {resp.status}: {event}")
        await pool.execute(
            f"INSERT INTO {TABLE} (appointment_id, version, event_id, etag) VALUES ($1, $2, $3, $4)",
            appointment.appointment_id,
            appointment.version,
            event["id"],
            event["etag"],
        )
        await incoming.ack()

    await queue.consume(on_message)
    print(json.dumps({"event": "floor_ready", "prefetch": prefetch}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await http.close()
        await connection.close()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(serve())

"""``python -m services.auth.entrypoints.breaker_command status|reset``: the operator's view of the
disconnect circuit breaker from a shell (the same use cases as ``/api/v1/breaker``). The reset's
``operator.alert`` is published by the running service's outbox relay at its next poll."""

from __future__ import annotations

import asyncio
import sys

from services.auth.usecases import breaker
from shared import db
from shared.clock import SystemClock
from shared.config import DEFAULT_DATABASE_URL, Env
from shared.outbox import Outbox


async def _main(command: str) -> int:
    dsn = Env().text("DATABASE_URL", DEFAULT_DATABASE_URL)
    pool = await db.create_pool(dsn, schema="auth", application_name="auth-breaker")
    try:
        if command == "reset":
            clock = SystemClock()
            result = await breaker.reset_and_report(pool, Outbox(clock), clock.now())
            closed = result["closed_incident"]
            print(f"breaker closed (incident {closed})" if closed else "breaker was not open; window reset")
            print(result)
        else:
            async with pool.acquire() as conn:
                print(await breaker.status(conn))
    finally:
        await db.close_pool(pool)
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args not in (["reset"], ["status"]):
        print("usage: python -m services.auth.entrypoints.breaker_command status|reset", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(_main(args[0])))

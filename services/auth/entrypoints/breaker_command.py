"""``python -m services.auth.entrypoints.breaker_command status|reset``: the operator's view of the
disconnect circuit breaker from a shell (the same use cases as ``/api/v1/breaker``)."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from services.auth.usecases import breaker
from shared.clock import SystemClock
from shared.config import DEFAULT_DATABASE_URL, Env


async def _main(command: str) -> int:
    dsn = Env().text("DATABASE_URL", DEFAULT_DATABASE_URL)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "auth", "timezone": "UTC"})
    try:
        if command == "reset":
            result = await breaker.reset_and_report(conn, SystemClock().now())
            closed = result["closed_incident"]
            print(f"breaker closed (incident {closed})" if closed else "breaker was not open; window reset")
            print(result)
        else:
            print(await breaker.status(conn))
    finally:
        await conn.close()
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args not in (["reset"], ["status"]):
        print("usage: python -m services.auth.entrypoints.breaker_command status|reset", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(_main(args[0])))

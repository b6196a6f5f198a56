"""A service as its own OS process (``python -m services.<name>``, SystemClock) for the crash-window
tests: started on the test's database and broker, ready once its internal /readyz answers."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from shared.config import CommonConfig
from tests.support.helpers import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def service_process(
    service: str, common: CommonConfig, settings: dict[str, str], *, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``services.<service>`` with the common settings plus ``settings``; its output goes to ``log``;
    killed on the way out if the test has not."""
    port, internal_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": common.database_url,
        "AMQP_URL": common.amqp_url,
        "AMQP_PREFIX": common.amqp_prefix,
        "AMQP_RETRY_DELAYS_MS": ",".join(str(d) for d in common.retry_delays_ms),
        "HTTP_PORT": str(port),
        "INTERNAL_HOST": "127.0.0.1",
        "INTERNAL_PORT": str(internal_port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SERVICE_TOKEN": common.service_token,
        "OUTBOX_POLL_INTERVAL": "0.05",
        "LOG_LEVEL": "INFO",
        **settings,
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"services.{service}", env=env, stdout=out, stderr=out
        )
        try:
            await eventually(lambda: _ready(f"http://127.0.0.1:{internal_port}"), timeout=30)
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def _ready(url: str) -> None:
    """The process is ready (internal /readyz) only once its consumers and workers run."""
    try:
        async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as resp:
            assert resp.status == 200
    except aiohttp.ClientConnectionError:
        raise AssertionError("not listening yet") from None

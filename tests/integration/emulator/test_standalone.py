"""The emulator runs in its own process on a chosen port with Calendar latency (benchmarks)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from .conftest import EVENTS


@pytest_asyncio.fixture
async def standalone() -> AsyncIterator[str]:
    """`python -m devtools.google_emulator --port 0 --latency-ms 30:50`; yields its base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.google_emulator",
        "--port",
        "0",
        "--latency-ms",
        "30:50",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        while line.get("event") != "emulator_started":
            line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        yield str(line["base_url"])
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


async def test_standalone_serves_with_latency(standalone: str) -> None:
    """The printed URL serves the admin API and the Calendar API, and Calendar answers take 30 ms or more."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            standalone + "/_emulator/grant_token", json={"email": "demo@example.com", "scopes": [EVENTS]}
        ) as resp:
            token = (await resp.json())["result"]
        started = time.perf_counter()
        async with http.get(
            standalone + "/calendar/v3/calendars/primary/events", headers={"Authorization": "Bearer " + token}
        ) as resp:
            assert resp.status == 200
        assert time.perf_counter() - started >= 0.03

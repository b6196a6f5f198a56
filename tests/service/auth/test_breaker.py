"""The disconnect circuit breaker: a burst of dead grants stops auth from disconnecting, alerts the
operator once, and waits for a human; after the reset, recovered grants come back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp

from shared.clock import ManualClock
from tests.helpers import eventually

from .refresh_support import add_grant, auth_config, grant_row, running


async def test_burst_of_dead_grants_trips_the_breaker(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any, service_token: str
) -> None:
    """When 6 of 10 grants die at once (threshold 5), only 4 are disconnected, the rest are held, one
    operator alert goes out, and after an operator reset the held grants that work again reconnect."""
    clock = ManualClock()
    events = await probe("auth.events", "#")
    config = auth_config(common_config("auth"), google_config, jitter=0.0, concurrency=1)
    async with running(config, clock) as url:
        grants = [await add_grant(clean_db, emulator, clock, expires_in=3600) for _ in range(10)]
        dying = grants[:6]
        for g in dying:
            emulator.delete_account(g["email"])
        clock.advance(timedelta(minutes=51))
        alert = await events.next_of_type("operator.alert", timeout=10)
        assert alert["kind"] == "circuit_open"

        async def settled() -> list[Any]:
            rows = [await grant_row(clean_db, g["grant_id"]) for g in grants]
            assert all(r["last_attempt_at"] == clock.now() for r in rows)
            return rows

        rows = await eventually(settled, timeout=10)
        disconnected = [r for r in rows if r["state"] == "disconnected"]
        held = [r for r in rows if r["verdict_pending_since"] is not None]
        assert len(disconnected) == 4 and len(held) == 2
        assert all(r["state"] == "connected" for r in held)
        held_ids = {r["grant_id"] for r in held}

        for g in dying:
            emulator.restore_account(g["email"])
        headers = {"Authorization": f"Bearer {service_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url + "/api/v1/breaker/reset", headers=headers) as resp,
        ):
            assert resp.status == 200
            body = await resp.json()
        assert body["closed_incident"] == alert["incident_id"] and body["open"] is False

        recovered: set[str] = set()
        while recovered != held_ids:
            event = await events.next_json(10)
            if event["type"] == "grant.connected":
                assert event["cause"] == "recovered"
                recovered.add(event["grant_id"])
    seen = [(await events.next_json(1))["type"] for _ in range(events.pending())]
    assert seen.count("operator.alert") <= 1  # the circuit_closed notice, nothing more
    for grant_id in held_ids:
        row = await grant_row(clean_db, grant_id)
        assert row["state"] == "connected" and row["verdict_pending_since"] is None

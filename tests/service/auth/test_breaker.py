"""The disconnect circuit breaker: a burst of dead grants stops auth from disconnecting, alerts the
operator once, and waits for a human; after the reset, recovered grants come back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from services.auth.adapters import refresh_repository
from services.auth.usecases import breaker
from shared.clock import ManualClock
from shared.outbox import Outbox
from tests.support.helpers import eventually

from .refresh_support import add_grant, grant_row, refresh_config, running


async def _hold_as_revoked(db: asyncpg.Pool, grant_id: str, *, since: datetime, due: datetime) -> None:
    """Put the grant in the breaker's hold: a pending 'revoked' verdict, next refresh at ``due``."""
    await db.execute(
        "UPDATE auth.grants SET verdict_pending_since = $2, verdict_pending_reason = 'revoked',"
        " next_refresh_at = $3 WHERE grant_id = $1",
        grant_id,
        since,
        due,
    )


async def test_burst_of_dead_grants_trips_the_breaker(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any, service_token: str
) -> None:
    """When 6 of 10 grants die at once (threshold 5), only 4 are disconnected, the rest are held, one
    operator alert goes out, and after an operator reset the held grants that work again reconnect."""
    clock = ManualClock()
    events = await probe("auth.events", "#")
    config = refresh_config(common_config("auth"), google_config, jitter=0.0, concurrency=1)
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


async def test_reset_during_a_dead_grant_decision_does_not_deadlock(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, database_url: str
) -> None:
    """An operator reset arriving while a refresh is deciding about a held grant waits for that decision
    instead of deadlocking with it, and the grant is then due at once."""
    clock = ManualClock()
    config = refresh_config(common_config("auth"), google_config, poll_interval=60.0)  # scheduler stays out
    async with running(config, clock):
        g = await add_grant(clean_db, emulator, clock, expires_in=3600)
        await _hold_as_revoked(
            clean_db, g["grant_id"], since=clock.now(), due=clock.now() + timedelta(hours=1)
        )
        settings = {"search_path": "auth", "timezone": "UTC"}
        refreshing = await asyncpg.connect(database_url, server_settings=settings)
        operator = await asyncpg.connect(database_url, server_settings=settings)
        try:
            refresh_tx = refreshing.transaction()
            await refresh_tx.start()
            await refresh_repository.load(
                refreshing, grant_id=g["grant_id"], lock=True
            )  # a refresh holds the grant

            async def operator_reset() -> str | None:
                async with operator.transaction():
                    return await breaker.reset(operator, Outbox(clock), clock.now())

            reset = asyncio.create_task(operator_reset())
            pid = operator.get_server_pid()

            async def reset_waits() -> None:
                state = await clean_db.fetchval(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid
                )
                assert state == "Lock"

            await eventually(reset_waits, timeout=5)
            await refresh_repository.lock_breaker(
                refreshing
            )  # the refresh judges the grant dead: breaker next
            await refresh_tx.commit()
            await asyncio.wait_for(reset, timeout=5)
        finally:
            await refreshing.close()
            await operator.close()
        row = await grant_row(clean_db, g["grant_id"])
        assert row["next_refresh_at"] <= clock.now()


async def test_reset_re_judges_a_held_grant_whose_token_is_still_fresh(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any, service_token: str
) -> None:
    """After an operator reset, a held grant whose access token is still fresh is refreshed at once:
    it works again, so its verdict is cleared and grant.connected (recovered) goes out."""
    clock = ManualClock()
    events = await probe("auth.events", "auth.grant.connected")
    config = refresh_config(common_config("auth"), google_config, jitter=0.0)
    async with running(config, clock) as url:
        g = await add_grant(clean_db, emulator, clock, expires_in=3600)
        await _hold_as_revoked(
            clean_db, g["grant_id"], since=clock.now(), due=clock.now() + timedelta(minutes=30)
        )
        await clean_db.execute(
            "INSERT INTO auth.incidents (incident_id, kind, error, detail, opened_at)"
            " VALUES ('i-held', 'circuit_open', 'invalid_grant', 'test', $1)",
            clock.now(),
        )
        headers = {"Authorization": f"Bearer {service_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url + "/api/v1/breaker/reset", headers=headers) as resp,
        ):
            assert resp.status == 200

        async def judged() -> None:
            row = await grant_row(clean_db, g["grant_id"])
            assert row["verdict_pending_since"] is None and row["last_refreshed_at"] == clock.now()

        await eventually(judged, timeout=10)
        event = await events.next_json(10)
    assert event["grant_id"] == g["grant_id"] and event["cause"] == "recovered"

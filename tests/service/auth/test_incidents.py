"""The app-wide incident (Google no longer accepts our OAuth client) is closed by whichever instance
refreshes successfully next, so the next outage alerts operators again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.clock import ManualClock
from tests.support.helpers import eventually

from .refresh_support import add_grant, grant_row, refresh_config, running


async def test_incident_opened_before_a_restart_is_closed_after_it_and_the_next_outage_alerts(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """Operators hear about a broken OAuth client, auth restarts, the client is fixed and works again,
    and when it breaks a second time operators hear about it again."""
    clock = ManualClock()
    events = await probe("auth.events", "auth.operator.#")
    config = refresh_config(common_config("auth"), google_config, jitter=0.0, retry_base=30.0)
    async with running(config, clock):
        g = await add_grant(clean_db, emulator, clock, expires_in=3600)
        emulator.disable_client()
        clock.advance(timedelta(minutes=51))
        first = await events.next_of_type("operator.alert", timeout=10)
    emulator.disable_client(False)
    async with running(config, clock):  # a restarted (or another) instance sees the recovery
        clock.advance(timedelta(minutes=2))

        async def closed() -> None:
            assert (await grant_row(clean_db, g["grant_id"]))["refresh_failures"] == 0
            assert await clean_db.fetchval(
                "SELECT closed_at FROM auth.incidents WHERE incident_id = $1", first["incident_id"]
            )

        await eventually(closed, timeout=10)
        emulator.disable_client()
        clock.advance(timedelta(hours=1))
        second = await _next_alert(events, other_than=first["incident_id"])
    assert first["kind"] == second["kind"] == "app_config"


async def _next_alert(events: Any, *, other_than: str) -> dict[str, Any]:
    """The next alert for another incident (the outbox delivers at least once: repeats are skipped)."""
    while True:
        alert: dict[str, Any] = await events.next_of_type("operator.alert", timeout=10)
        if alert["incident_id"] != other_than:
            return alert

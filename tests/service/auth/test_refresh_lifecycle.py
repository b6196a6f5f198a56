"""Refresh over weeks and months against the emulator: a time-limited grant's end is announced once,
idle grants are kept alive, a broken OAuth client alerts operators without touching users, and the
refresh metrics say what happened."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.clock import ManualClock
from tests.support.helpers import eventually

from .refresh_support import add_grant, grant_row, metrics_of, refresh_config, running

USER_EVENTS = ("grant.disconnected", "grant.expiring", "grant.deleted")  # the ones that email a user


async def _refreshed_at(db: Any, grant_ids: list[str], when: datetime) -> None:
    async def done() -> None:
        for grant_id in grant_ids:
            assert (await grant_row(db, grant_id))["last_refreshed_at"] == when

    await eventually(done, timeout=10)


async def _drain(events: Any) -> list[dict[str, Any]]:
    return [await events.next_json(1) for _ in range(events.pending())]


async def test_time_limited_grant_end_is_announced_once(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """A user who granted access for two days hears about its end once, even though every later
    refresh reports the end again."""
    clock = ManualClock()
    events = await probe("auth.events", "#")
    async with running(refresh_config(common_config("auth"), google_config, jitter=0.0), clock):
        limited = await add_grant(clean_db, emulator, clock, expires_in=3600)
        other = await add_grant(clean_db, emulator, clock, expires_in=3600)
        emulator.set_time_limited(limited["email"], 2 * 86_400)
        clock.advance(timedelta(minutes=51))  # the first refresh learns when access ends
        first = await events.next_of_type("grant.expiring", timeout=10)
        assert first["grant_id"] == limited["grant_id"] and first["user_id"] == limited["user_id"]
        end = datetime.fromisoformat(first["expires_at"])
        assert timedelta(days=1, hours=23) < end - clock.now() <= timedelta(days=2)
        for _ in range(2):  # two more refreshes report the same end again
            clock.advance(timedelta(hours=1))
            await _refreshed_at(clean_db, [limited["grant_id"], other["grant_id"]], clock.now())
        emulator.set_time_limited(other["email"], 2 * 86_400)
        clock.advance(timedelta(hours=1))  # the other grant's end, announced after all of the above
        second = await events.next_of_type("grant.expiring", timeout=10)
    assert second["grant_id"] == other["grant_id"]
    later = [e for e in await _drain(events) if e["type"] == "grant.expiring"]
    assert later == []
    row = await grant_row(clean_db, limited["grant_id"])
    assert row["expiring_announced_for"] == end and row["refresh_token_expires_at"] != end


async def test_idle_grant_is_kept_alive_for_months(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """A grant nobody uses, with a longest silence of 3 days, is still refreshed every few days, so half
    a year of inactivity never disconnects the user, and it is not refreshed more often than that."""
    clock = ManualClock()
    events = await probe("auth.events", "auth.grant.#")
    async with running(refresh_config(common_config("auth"), google_config, max_silence=3 * 86_400.0), clock):
        g = await add_grant(clean_db, emulator, clock, expires_in=3600, last_used=False)
        clock.advance(timedelta(minutes=51))
        await _refreshed_at(clean_db, [g["grant_id"]], clock.now())
        due = (await grant_row(clean_db, g["grant_id"]))["next_refresh_at"]
        assert timedelta(days=2) < due - clock.now() <= timedelta(days=3)  # longest silence, not proactive
        refreshes = 1
        while clock.now() < datetime(2026, 7, 10, tzinfo=due.tzinfo):  # about six months
            clock.advance(timedelta(days=1))
            assert emulator.token_calls_by_grant["refresh_token"] == refreshes  # not yet due
            clock.advance(timedelta(days=2))
            await _refreshed_at(clean_db, [g["grant_id"]], clock.now())
            refreshes += 1
        row = await grant_row(clean_db, g["grant_id"])
    assert refreshes > 60 and row["state"] == "connected"
    assert emulator.token_calls_by_grant["refresh_token"] == refreshes
    assert [e for e in await _drain(events) if e["type"] in USER_EVENTS] == []


async def test_broken_oauth_client_alerts_operators_once_and_touches_no_user(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """When Google stops recognising our OAuth client, operators get one alert for the whole incident,
    no user is disconnected or emailed, and everything works again once the client is fixed."""
    clock = ManualClock()
    events = await probe("auth.events", "#")
    config = refresh_config(common_config("auth"), google_config, jitter=0.0, retry_base=30.0)
    async with running(config, clock) as url:
        grants = [await add_grant(clean_db, emulator, clock, expires_in=3600) for _ in range(3)]
        emulator.disable_client()
        clock.advance(timedelta(minutes=51))
        alert = await events.next_of_type("operator.alert", timeout=10)
        assert alert["kind"] == "app_config" and alert["error"] == "invalid_client"
        for _ in range(2):  # more failed rounds after the backoff: the incident is already open
            calls = emulator.token_calls_by_grant["refresh_token"]
            clock.advance(timedelta(minutes=2))

            async def retried(before: int = calls) -> None:
                assert emulator.token_calls_by_grant["refresh_token"] >= before + 3

            await eventually(retried, timeout=10)
        emulator.disable_client(False)
        clock.advance(timedelta(minutes=5))
        await _refreshed_at(clean_db, [g["grant_id"] for g in grants], clock.now())
        metrics = await metrics_of(url)
        rows = [await grant_row(clean_db, g["grant_id"]) for g in grants]
        closed = await clean_db.fetchval("SELECT closed_at FROM auth.incidents WHERE kind = 'app_config'")
    assert all(r["state"] == "connected" and r["refresh_failures"] == 0 for r in rows)
    assert closed is not None
    assert metrics['calsync_auth_operator_alerts_total{kind="app_config"}'] == 1
    assert metrics['calsync_auth_refreshes_total{outcome="app_wide"}'] >= 9
    assert metrics['calsync_auth_refreshes_total{outcome="ok"}'] == 3
    rest = await _drain(events)
    assert [e for e in rest if e["type"] == "operator.alert"] == []
    assert [e for e in rest if e["type"] in USER_EVENTS] == []


async def test_metrics_show_refreshes_lead_and_grants_by_state(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any
) -> None:
    """/metrics counts a refresh made nine minutes before expiry, files it under the right lead bucket,
    and counts the grant as connected."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config, jitter=0.0), clock) as url:
        g = await add_grant(clean_db, emulator, clock, expires_in=3600)
        clock.advance(timedelta(minutes=51))
        await _refreshed_at(clean_db, [g["grant_id"]], clock.now())

        async def counted() -> dict[str, float]:
            values = await metrics_of(url)
            assert values['calsync_auth_grants{state="connected"}'] == 1  # counted every few seconds
            return values

        metrics = await eventually(counted, timeout=10)
    assert metrics['calsync_auth_refreshes_total{outcome="ok"}'] == 1
    assert metrics["calsync_auth_refresh_lead_seconds_count"] == 1
    assert metrics["calsync_auth_refresh_lead_seconds_sum"] == 540
    assert metrics['calsync_auth_refresh_lead_seconds_bucket{le="300.0"}'] == 0
    assert metrics['calsync_auth_refresh_lead_seconds_bucket{le="600.0"}'] == 1
    assert metrics['calsync_auth_grants{state="disconnected"}'] == 0


async def test_revoked_idle_grant_is_found_within_the_longest_silence(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """A grant nobody uses whose access is removed at Google (no security event) is disconnected
    within the default longest silence of 6 hours, without any token request."""
    clock = ManualClock()
    events = await probe("auth.events", "auth.grant.disconnected")
    async with running(refresh_config(common_config("auth"), google_config, jitter=300.0), clock):
        g = await add_grant(clean_db, emulator, clock, expires_in=3600, last_used=False)
        clock.advance(timedelta(minutes=51))
        await _refreshed_at(clean_db, [g["grant_id"]], clock.now())  # its first refresh still works
        emulator.revoke_user(g["email"])
        clock.advance(timedelta(hours=6))
        event = await events.next_json(10)
    assert event["grant_id"] == g["grant_id"] and event["reason"] == "revoked"
    assert event["detected_by"] == "refresh"

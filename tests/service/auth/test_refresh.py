"""Proactive refresh against the Google emulator: tokens are renewed before they expire, and a grant
Google ended is reported with the right reason within one refresh cycle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.clock import ManualClock
from tests.support.helpers import eventually

from .refresh_support import add_grant, grant_row, refresh_config, running


async def test_refresh_happens_before_expiry(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any
) -> None:
    """A grant in use gets a new access token minutes before the old one expires, without any request."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config, jitter=0.0), clock):
        g = await add_grant(clean_db, emulator, clock, expires_in=3600)
        before = await grant_row(clean_db, g["grant_id"])
        clock.advance(timedelta(minutes=45))
        assert emulator.token_calls_by_grant["refresh_token"] == 0
        clock.advance(timedelta(minutes=6))  # 9 minutes before expiry: inside the 10-minute lead

        async def refreshed() -> Any:
            row = await grant_row(clean_db, g["grant_id"])
            assert row["last_refreshed_at"] > before["last_refreshed_at"]
            return row

        row = await eventually(refreshed, timeout=10)
    assert emulator.token_calls_by_grant["refresh_token"] == 1
    assert row["access_expires_at"] > before["access_expires_at"]
    assert row["access_token_enc"] != before["access_token_enc"]
    assert row["state"] == "connected"


async def _dies(
    common_config: Any, google_config: Any, emulator: Any, db: Any, probe: Any, kill: str, reason: str
) -> None:
    clock = ManualClock()
    events = await probe("auth.events", "auth.grant.#")
    async with running(refresh_config(common_config("auth"), google_config, jitter=0.0), clock):
        g = await add_grant(db, emulator, clock, expires_in=3600)
        getattr(emulator, kill)(g["email"])
        clock.advance(timedelta(minutes=51))
        event = await events.next_of_type("grant.disconnected", timeout=10)
    assert event["grant_id"] == g["grant_id"] and event["user_id"] == g["user_id"]
    assert event["reason"] == reason and event["detected_by"] == "refresh"
    row = await grant_row(db, g["grant_id"])
    assert row["state"] == "disconnected" and row["reason"] == reason
    assert row["access_token_enc"] is None


async def test_revoked_grant_is_disconnected_within_one_cycle(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """Removing our access in the Google account disconnects the grant at its next refresh, reason revoked."""
    await _dies(common_config, google_config, emulator, clean_db, probe, "revoke_user", "revoked")


async def test_deleted_account_is_reported_as_such(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """A deleted Google account disconnects the grant with reason account_deleted."""
    await _dies(common_config, google_config, emulator, clean_db, probe, "delete_account", "account_deleted")


async def test_admin_policy_is_reported_as_such(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """A Workspace admin restricting our scopes disconnects the grant with reason admin_policy."""
    await _dies(common_config, google_config, emulator, clean_db, probe, "set_admin_policy", "admin_policy")

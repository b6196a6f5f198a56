"""The emulator finds grants by refresh token without scanning, and its token latency is jittered."""

from __future__ import annotations

from devtools.google_emulator import GoogleEmulator
from devtools.google_emulator.state import Grant


def test_refresh_tokens_are_found_by_value_including_direct_appends() -> None:
    """A grant appended straight to `grants` (as tests seed them) is found by its refresh token."""
    emu = GoogleEmulator()
    first = Grant("a@example.com", emu.client_id, ["openid"], "1//a")
    emu.grants.append(first)
    assert emu.grant_for_refresh_token("1//a") is first
    later = Grant("b@example.com", emu.client_id, ["openid"], "1//b")
    emu.grants.append(later)
    assert emu.grant_for_refresh_token("1//b") is later
    assert emu.grant_for_refresh_token("1//unknown") is None
    assert emu.grant_for_refresh_token("") is None


def test_token_latency_stays_within_base_plus_jitter() -> None:
    """A latency of 30 ms with 20 ms jitter delays each token call by 30 to 50 ms."""
    emu = GoogleEmulator()
    emu.set_latency("/token", 0.03, jitter=0.02)
    delays = [emu._latency_for("/token") for _ in range(200)]
    assert all(0.03 <= d <= 0.05 for d in delays) and len(set(delays)) > 1
    assert emu._latency_for("/calendar/v3/") == 0.0
    emu.set_latency("/token", 0)
    assert emu._latency_for("/token") == 0.0

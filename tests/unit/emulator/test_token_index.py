"""The emulator finds grants by refresh token without scanning, and its token latency is jittered."""

from __future__ import annotations

from devtools.google_emulator import GoogleEmulator


def test_refresh_tokens_are_found_by_value() -> None:
    """A grant seeded with `add_grant` is found by its refresh token; unknown or empty ones are not."""
    emu = GoogleEmulator()
    first = emu.add_grant("a@example.com", ["openid"], refresh_token="1//a")
    assert emu.grant_for_refresh_token("1//a") is first
    later = emu.add_grant("b@example.com", ["openid"])
    assert later.refresh_token and emu.grant_for_refresh_token(later.refresh_token) is later
    assert emu.grant_for_refresh_token("1//unknown") is None
    assert emu.grant_for_refresh_token("") is None


def test_token_latency_stays_within_base_plus_jitter() -> None:
    """A latency of 30 ms with 20 ms jitter delays each token call by 30 to 50 ms."""
    emu = GoogleEmulator()
    emu.set_latency("/token", 0.03, jitter=0.02)
    delays = [emu.response_delay("/token") for _ in range(200)]
    assert all(0.03 <= d <= 0.05 for d in delays) and len(set(delays)) > 1
    assert emu.response_delay("/calendar/v3/") == 0.0
    emu.set_latency("/token", 0)
    assert emu.response_delay("/token") == 0.0

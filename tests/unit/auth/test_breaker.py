"""The circuit breaker opens only for an unusual burst of dead grants."""

from __future__ import annotations

from services.auth.domain.refresh_rules import RefreshSettings, breaker_trips

S = RefreshSettings(breaker_min_dead=20, breaker_share=0.2)


def test_normal_attrition_does_not_trip() -> None:
    """A few dead grants among many refreshes are ordinary and are disconnected."""
    assert not breaker_trips(dead=19, attempted=20, s=S)
    assert not breaker_trips(dead=30, attempted=1000, s=S)


def test_burst_trips() -> None:
    """Many grants dying at once, as a share of refreshes, stops disconnects."""
    assert breaker_trips(dead=20, attempted=100, s=S)
    assert breaker_trips(dead=50, attempted=60, s=S)

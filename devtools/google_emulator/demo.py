"""The demo account a standalone emulator starts with (`make run`) and the screenshots show:
demo@example.com with a primary calendar holding a few events."""

from __future__ import annotations

from typing import Any

from .state import EmulatorState

DEMO_EMAIL = "demo@example.com"
DEMO_EVENTS: tuple[dict[str, Any], ...] = (
    {
        "id": "demostandup0001",
        "summary": "Team stand-up",
        "start": {"dateTime": "2030-01-07T09:00:00Z"},
        "end": {"dateTime": "2030-01-07T09:15:00Z"},
    },
    {
        "id": "demodentist0002",
        "summary": "Dentist",
        "start": {"date": "2030-01-09"},
        "end": {"date": "2030-01-10"},
    },
)


def seed_demo(state: EmulatorState) -> None:
    """Add the demo account and its events."""
    state.add_user(DEMO_EMAIL, name="Demo User")
    for event in DEMO_EVENTS:
        state.seed_event(DEMO_EMAIL, event)

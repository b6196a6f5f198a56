"""What one claimed appointment needs in Google (pure): skip it, delete its event, or upsert it,
and under which event id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.sync.domain import event_ids

Action = Literal["upsert", "delete", "nothing", "skip"]


@dataclass(frozen=True)
class Target:
    """Where the event lives or will live: calendar, event id, generation, and the etag we saw."""

    calendar_id: str
    event_id: str
    generation: int
    etag: str | None


@dataclass(frozen=True)
class Stored:
    """The appointment row as claimed."""

    appointment_id: str
    version: int
    cancelled: bool
    ends_at: datetime | None
    calendar_id: str | None
    event_id: str | None
    generation: int
    etag: str | None


def action(row: Stored, now: datetime, past_window: timedelta) -> Action:
    """Cancelled: delete what we may have written; long past and never written: skip."""
    if row.cancelled:
        return "delete" if row.event_id is not None else "nothing"
    if row.event_id is None and row.ends_at is not None and row.ends_at < now - past_window:
        return "skip"
    return "upsert"


def target(row: Stored, calendar_id: str) -> Target:
    """The event id for the user's current calendar: the stored one, or a new one when the
    appointment has no event yet or its event is in another calendar."""
    if row.event_id is not None and row.calendar_id == calendar_id:
        return Target(calendar_id, row.event_id, row.generation, row.etag)
    generation = row.generation if row.calendar_id in (None, calendar_id) else 0
    return Target(
        calendar_id, event_ids.event_id(row.appointment_id, calendar_id, generation), generation, None
    )


def next_generation(current: Target, appointment_id: str) -> Target:
    """A fresh id after ours was deleted in Google or taken by someone else."""
    generation = current.generation + 1
    new_id = event_ids.event_id(appointment_id, current.calendar_id, generation)
    return Target(current.calendar_id, new_id, generation, None)

"""Which Google action an appointment needs, and under which event id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.sync.domain import event_ids, write_plan

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)


def stored(**changes: object) -> write_plan.Stored:
    fields: dict[str, object] = {
        "appointment_id": "a1", "version": 1, "cancelled": False, "ends_at": NOW + timedelta(days=1),
        "calendar_id": None, "event_id": None, "generation": 0, "etag": None,
    }  # fmt: skip
    fields.update(changes)
    return write_plan.Stored(**fields)  # type: ignore[arg-type]


def test_long_past_appointments_never_written_are_skipped_and_recent_ones_replayed() -> None:
    """Beyond the replay window an unwritten appointment is skipped; within it, it is written."""
    assert write_plan.action(stored(ends_at=NOW - timedelta(days=8)), NOW, WINDOW) == "skip"
    assert write_plan.action(stored(ends_at=NOW - timedelta(days=6)), NOW, WINDOW) == "upsert"


def test_a_cancelled_appointment_is_deleted_only_if_it_may_have_been_written() -> None:
    """No event id: nothing to delete."""
    assert write_plan.action(stored(cancelled=True), NOW, WINDOW) == "nothing"
    assert write_plan.action(stored(cancelled=True, event_id="csabcde"), NOW, WINDOW) == "delete"


def test_the_stored_event_id_is_kept_for_the_same_calendar_and_replaced_for_another() -> None:
    """Same calendar: same id and etag; another calendar: a fresh id there."""
    row = stored(calendar_id="cal", event_id="csabcde", etag='"1"')
    assert write_plan.target(row, "cal") == write_plan.Target("cal", "csabcde", 0, '"1"')
    moved = write_plan.target(row, "new")
    assert moved.event_id == event_ids.event_id("a1", "new", 0) and moved.etag is None


def test_a_new_generation_gives_a_new_id_without_an_etag() -> None:
    """After a deletion in Google the next id is derived from the next generation."""
    first = write_plan.target(stored(), "cal")
    second = write_plan.next_generation(first, "a1")
    assert second.generation == 1 and second.event_id == event_ids.event_id("a1", "cal", 1)

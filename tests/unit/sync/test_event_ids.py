"""Event ids sync chooses: Google's base32hex alphabet and length, stable per appointment and
calendar, and new for every generation."""

from __future__ import annotations

import uuid

import pytest

from services.sync.domain import event_ids


def test_ids_use_only_lowercase_base32hex_and_fit_the_length_limits() -> None:
    """Google accepts a-v and 0-9, 5 to 1024 characters."""
    for appointment in ("a", "APT-4711", "ü" * 200, "x\x00y"):
        event_id = event_ids.event_id(appointment, "alice@example.com", 0)
        assert event_ids.is_valid(event_id)
        assert set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")
        assert 5 <= len(event_id) <= 1024


def test_the_same_appointment_and_calendar_always_give_the_same_id() -> None:
    """Deterministic: a retried insert after a crash uses the id of the first attempt."""
    assert event_ids.event_id("a1", "cal", 0) == event_ids.event_id("a1", "cal", 0)


def test_generation_calendar_and_appointment_each_change_the_id() -> None:
    """A new generation (after a deletion in Google) or another calendar gives another id."""
    ids = {
        event_ids.event_id("a1", "cal", 0),
        event_ids.event_id("a1", "cal", 1),
        event_ids.event_id("a1", "other", 0),
        event_ids.event_id("a2", "cal", 0),
    }
    assert len(ids) == 4


def test_invalid_ids_are_recognised() -> None:
    """Uppercase, w-z, hyphens and too-short ids are not valid Google event ids."""
    assert not any(event_ids.is_valid(bad) for bad in ("ABCDE", "wxyz0", "ab-cd", "abcd", ""))
    with pytest.raises(ValueError):
        event_ids.event_id("a1", "cal", -1)


def test_probe_ids_are_fresh_valid_and_never_an_appointments() -> None:
    """A connection test's probe id is a valid client-chosen id, new each time, and told apart from
    every appointment's event id (which is longer) by ``is_probe``."""
    first, second = event_ids.probe_id(uuid.uuid4().hex), event_ids.probe_id(uuid.uuid4().hex)
    assert first != second and event_ids.is_valid(first) and event_ids.is_probe(first)
    assert not event_ids.is_probe(event_ids.event_id("a1", "cal", 0))
    assert not event_ids.is_probe("csprobe")
    with pytest.raises(ValueError):
        event_ids.probe_id("not hex at all, and too short")

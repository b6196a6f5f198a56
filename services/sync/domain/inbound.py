"""What an event seen in Google means (pure): inbound sync hands each listed event, what the last
sync saw of it and what sync last wrote for its appointment; the answer says which messages to
publish and what to remember. Our own writes and deletions are never announced as changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.sync.domain import mapping
from shared import messages as m

External = Literal["moved", "deleted", "edited"]


@dataclass(frozen=True)
class Seen:
    """One item of an ``events.list`` page, reduced to what inbound sync compares."""

    event_id: str
    status: str  # confirmed, tentative or cancelled
    start: dict[str, Any] | None
    end: dict[str, Any] | None
    busy: bool
    etag: str | None
    appointment_id: str | None  # from our private tag (our source only)
    tag_version: int | None


@dataclass(frozen=True)
class Known:
    """The event as the last sync saw it (table ``calendar_events_known``)."""

    event_id: str
    appointment_id: str | None
    tag_version: int | None
    start: dict[str, Any] | None
    end: dict[str, Any] | None
    status: str
    busy: bool
    etag: str | None


@dataclass(frozen=True)
class Written:
    """What sync holds for an appointment: its latest version (being or already written), where
    its event lives, and that version's times in Google's form (None when cancelled)."""

    appointment_id: str
    calendar_id: str | None
    event_id: str | None
    version: int
    cancelled: bool
    start: dict[str, Any] | None
    end: dict[str, Any] | None


@dataclass(frozen=True)
class Meaning:
    """``announce``: calendar.event.changed or .deleted (None: nothing new, or our own doing);
    ``external``: what the user did to one of our events; ``remember``: store the event as seen
    (a deletion as a tombstone, so that a later full list does not announce it again)."""

    announce: Literal["changed", "deleted"] | None
    external: External | None
    appointment_id: str | None
    remember: bool


def seen(event: dict[str, Any], source_tag: str) -> Seen:
    """A listed Google event as plain values; a cancelled entry may carry only its id."""
    props = event.get("extendedProperties")
    private = props.get("private") if isinstance(props, dict) else None
    tag = private if isinstance(private, dict) and private.get(mapping.TAG_SOURCE) == source_tag else {}
    appointment_id = tag.get(mapping.TAG_APPOINTMENT)
    return Seen(
        event_id=str(event["id"]),
        status=str(event.get("status") or "confirmed"),
        start=event.get("start"),
        end=event.get("end"),
        busy=event.get("transparency") != "transparent",
        etag=event.get("etag"),
        appointment_id=appointment_id if isinstance(appointment_id, str) else None,
        tag_version=mapping.tagged_version(event) if tag else None,
    )


def _instant(value: dict[str, Any] | None) -> object:
    """A start or end comparable across notations: an aware datetime, a date, or the raw value."""
    if not value:
        return None
    if isinstance(value.get("date"), str):
        return dt.date.fromisoformat(value["date"])
    raw = value.get("dateTime")
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return raw
    return parsed if parsed.tzinfo is not None else (raw, value.get("timeZone"))


def same_times(start: dict[str, Any] | None, end: dict[str, Any] | None, other: Written | Known) -> bool:
    return _instant(start) == _instant(other.start) and _instant(end) == _instant(other.end)


def ends_at(event: Seen | Known) -> datetime | None:
    """The event's end as a UTC instant (an all-day end date at midnight UTC), for the window diff."""
    when = _instant(event.end)
    if isinstance(when, datetime):
        return when.astimezone(UTC)
    if isinstance(when, dt.date):
        return datetime(when.year, when.month, when.day, tzinfo=UTC)
    return None


def _unchanged(event: Seen, known: Known | None) -> bool:
    if known is None:
        return False
    if event.etag is not None and event.etag == known.etag:
        return True
    same = (event.status, event.busy) == (known.status, known.busy)
    return same and same_times(event.start, event.end, known)


def meaning(event: Seen, known: Known | None, written: Written | None, calendar_id: str) -> Meaning:
    """What ``event`` (as listed now) means. ``written`` is the appointment whose event this is,
    found by our tag, by what the last sync saw, or by the event id sync gave it."""
    appointment_id = event.appointment_id or (known.appointment_id if known else None)
    if written is not None:
        appointment_id = written.appointment_id
    if event.status == "cancelled":
        return _deleted(event.event_id, known, written, calendar_id, appointment_id)
    ours = written is not None and (written.calendar_id, written.event_id) == (calendar_id, event.event_id)
    if not ours:
        if _unchanged(event, known):
            return Meaning(None, None, appointment_id, remember=True)
        return Meaning("changed", None, appointment_id, remember=True)
    assert written is not None
    external = _external_edit(event, written)
    if external is None or _unchanged(event, known):
        return Meaning(None, None, appointment_id, remember=True)  # our write, or already announced
    return Meaning("changed", external, appointment_id, remember=True)


def _external_edit(event: Seen, written: Written) -> External | None:
    """None when the event is what sync wrote (or is about to overwrite); else moved or edited."""
    if written.cancelled or (event.tag_version is not None and event.tag_version < written.version):
        return None  # a newer version (or the deletion) is on its way to Google and replaces it
    if event.tag_version != written.version:
        return "edited"  # our id, but not our tag any more
    if not same_times(event.start, event.end, written):
        return "moved"
    return None


def _deleted(
    event_id: str, known: Known | None, written: Written | None, calendar_id: str, appointment_id: str | None
) -> Meaning:
    """A deletion: announced once (the known row keeps a tombstone), and never when sync made it."""
    if known is not None and known.status == "cancelled":
        return Meaning(None, None, appointment_id, remember=True)
    if written is not None and (written.calendar_id, written.event_id) == (calendar_id, event_id):
        if written.cancelled:
            return Meaning(None, None, appointment_id, remember=known is not None)  # sync deleted it
        return Meaning("deleted", "deleted", appointment_id, remember=True)
    if written is not None:  # sync moved or replaced the event
        return Meaning(None, None, appointment_id, remember=known is not None)
    return Meaning("deleted" if known is not None else None, None, appointment_id, remember=known is not None)


def vanished(known: Known) -> Seen:
    """A known event missing from a full list: it was deleted (a full list has no tombstones)."""
    return Seen(known.event_id, "cancelled", None, None, known.busy, None, known.appointment_id, None)


def missing(known: list[Known], listed: set[str], window_start: datetime) -> list[Known]:
    """Known events a full list from ``window_start`` should have shown but did not. Events ending
    within a day of the window start are left alone (an all-day end is only known to the day)."""
    margin = window_start + timedelta(days=1)
    return [
        k
        for k in known
        if k.status != "cancelled"
        and k.event_id not in listed
        and ((end := ends_at(k)) is None or end > margin)
    ]


def remembered(event: Seen, appointment_id: str | None) -> Known:
    return Known(
        event.event_id, appointment_id, event.tag_version, event.start, event.end,
        event.status, event.busy, event.etag,
    )  # fmt: skip


def event_time(value: dict[str, Any] | None, calendar_zone: str | None) -> m.EventTime | None:
    """Google's start or end as the contract's ``EventTime`` (a timed value without its own zone
    takes the calendar's, else UTC)."""
    if not value:
        return None
    if isinstance(value.get("date"), str):
        return m.EventTime(date=dt.date.fromisoformat(value["date"]))
    when = _instant(value)
    if not isinstance(when, datetime):
        return None
    return m.EventTime(date_time=when, time_zone=value.get("timeZone") or calendar_zone or "UTC")


def messages(
    user_id: str, calendar_id: str, event: Seen, what: Meaning, calendar_zone: str | None
) -> list[m.Message]:
    """The messages ``what`` asks for."""
    where = {"user_id": user_id, "calendar_id": calendar_id, "event_id": event.event_id}
    start, end = event_time(event.start, calendar_zone), event_time(event.end, calendar_zone)
    out: list[m.Message] = []
    if what.announce == "changed":
        status = "tentative" if event.status == "tentative" else "confirmed"
        body: dict[str, object] = {"start": start, "end": end, "all_day": bool(start and start.all_day)}
        body |= {"busy": event.busy, "status": status, "appointment_id": what.appointment_id}
        out.append(m.CalendarEventChanged.model_validate({**where, **body}))
    elif what.announce == "deleted":
        out.append(m.CalendarEventDeleted.model_validate({**where, "appointment_id": what.appointment_id}))
    if what.external is not None and what.appointment_id is not None:
        times = {"start": start, "end": end} if what.external != "deleted" else {}
        out.append(
            m.AppointmentExternalChange.model_validate(
                {**where, "appointment_id": what.appointment_id, "change": what.external, **times}
            )
        )
    return out

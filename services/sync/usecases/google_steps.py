"""The Google calls that bring one event to the appointment's state (docs/google.md §8): insert under
our stored id, treat our own earlier insert (409) as done, re-apply after 412, and recreate under a
new generation when the user deleted the event in Google."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog

from services.sync.adapters.google_calendar import EventWriter
from services.sync.domain import mapping
from services.sync.domain.write_plan import Target, next_generation
from shared.google.calendar import GoogleApiError, classify

log = structlog.get_logger(__name__)

MAX_STEPS = 5
RECREATED = "recreated: the event had been deleted in Google"


class TooManySteps(Exception):
    """Google kept changing under us; the write is tried again later."""


@dataclass(frozen=True)
class Written:
    target: Target
    note: str | None


@dataclass(frozen=True)
class Steps:
    """One appointment's writes on one token; ``remember`` stores a new target before its use."""

    google: EventWriter
    token: str
    rules: mapping.MappingRules
    remember: Callable[[Target], Awaitable[None]]


@dataclass(frozen=True)
class _Next:
    """After an error: ``done`` (our event is current), ``retry`` with ``etag``, or ``new_id``."""

    step: str
    etag: str | None = None
    recreated: bool = False


async def upsert(steps: Steps, appointment: mapping.AppointmentBody, target: Target) -> Written:
    note: str | None = None
    for _ in range(MAX_STEPS):
        try:
            return Written(await _write(steps, appointment, target), note)
        except GoogleApiError as err:
            after = await _after_error(steps, appointment, target, err)
        if after.step == "done":
            return Written(replace(target, etag=after.etag), note)
        if after.step == "retry":
            target = replace(target, etag=after.etag)
            continue
        target = next_generation(target, appointment.appointment_id)
        note = RECREATED if after.recreated else note
        log.warning(
            "event_id_replaced",
            appointment_id=appointment.appointment_id,
            generation=target.generation,
            recreated=after.recreated,
        )
        await steps.remember(target)
    raise TooManySteps(appointment.appointment_id)


async def _write(steps: Steps, appointment: mapping.AppointmentBody, target: Target) -> Target:
    if target.etag is None:
        body = mapping.insert_body(appointment, steps.rules, target.event_id)
        event = await steps.google.insert(steps.token, target.calendar_id, body)
    else:
        body = mapping.patch_body(appointment, steps.rules)
        event = await steps.google.patch(steps.token, target.calendar_id, target.event_id, body, target.etag)
    return replace(target, etag=str(event["etag"]))


async def _after_error(
    steps: Steps, appointment: mapping.AppointmentBody, target: Target, err: GoogleApiError
) -> _Next:
    """What the event looks like after an error about it; other errors are re-raised."""
    kind = classify(err)
    inserting = target.etag is None
    if inserting and kind != "duplicate":
        raise err
    if not inserting and kind not in ("precondition_failed", "not_found", "gone") and not _forbidden(err):
        raise err
    existing = await _get(steps, target)
    if existing is None or existing.get("status") == "cancelled":
        return _Next("new_id", recreated=True)  # deleted in Google; the platform is the truth
    if not mapping.is_ours(existing, appointment.appointment_id):
        return _Next("new_id")  # someone else's event holds this id
    etag = str(existing["etag"])
    if inserting and mapping.tagged_version(existing) == appointment.version:
        return _Next("done", etag)  # our own earlier insert had gone through
    return _Next("retry", etag)


def _forbidden(err: GoogleApiError) -> bool:
    """A write to a deleted event answers 403 ``forbidden`` (docs/google.md §8, observed)."""
    return err.status == 403 and err.reason == "forbidden"


async def _get(steps: Steps, target: Target) -> dict[str, Any] | None:
    try:
        return await steps.google.get(steps.token, target.calendar_id, target.event_id)
    except GoogleApiError as err:
        if err.status in (404, 410):
            return None
        raise


async def delete(google: EventWriter, token: str, calendar_id: str, event_id: str) -> None:
    """Remove our event; already deleted (410) or unknown (404) counts as done."""
    try:
        await google.delete(token, calendar_id, event_id)
    except GoogleApiError as err:
        if err.status not in (404, 410):
            raise

"""The settings page's Calendar section (templates/_calendar.html): the sync health in plain words and
the calendar picker, both from sync's API (adapters/sync_api); POST /settings/calendar saves a choice.
If sync cannot be reached the section says so and the rest of the page works as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import structlog
from aiohttp import web

from services.auth.adapters.sync_api import SyncApi, SyncRefused, SyncUnavailable
from services.auth.domain import sync_health
from services.auth.entrypoints import websession
from services.auth.entrypoints.calendar_texts import TEXTS, say
from services.auth.entrypoints.websession import see_other
from services.auth.keys import CLOCK, SYNC_API
from services.auth.usecases.connection import Status

log = structlog.get_logger(__name__)

PROBLEMS = ("health.calendar_unavailable", "health.needs_consent")
WAITING = ("health.retrying", "health.reconnect", "health.suspended", "health.setting_up")
REFUSALS = ("not_writable", "unknown_calendar", "not_connected")
ANCHOR = "/settings?calendar={outcome}#calendar"
_FAILED = {"google_unavailable": "unavailable"}  # any other refusal: sync itself could not help


class Option(NamedTuple):
    """One calendar the picker offers."""

    id: str
    label: str
    chosen: bool


@dataclass(frozen=True)
class CalendarView:
    """What _calendar.html shows; ``reachable`` False: only the "cannot be shown" sentence."""

    reachable: bool
    headline: str = ""
    tone: str = "ok"  # ok | waiting | problem
    details: list[str] = field(default_factory=list)
    current: str | None = None
    current_gone: bool = False  # the chosen calendar is gone or read-only (a calendar problem)
    options: list[Option] = field(default_factory=list)
    picker_note: str | None = None
    notice: str | None = None
    notice_ok: bool = True


async def view(request: web.Request, user_id: str, status: Status, locale: str) -> CalendarView | None:
    """The section for this user (None before the first connection: there is nothing to show)."""
    if status.state == "none":
        return None
    api, t = request.app[SYNC_API], TEXTS[locale]
    try:
        health = await api.health(user_id)
    except (SyncUnavailable, SyncRefused) as exc:
        log.warning("sync_health_unavailable", user_id=user_id, error=str(exc))
        notice, notice_ok = _notice(request.query.get("calendar"), None, locale)
        return CalendarView(
            reachable=False, headline=t["unreachable"], tone="waiting", notice=notice, notice_ok=notice_ok
        )
    headline = sync_health.waiting(health, status.state)
    now = request.app[CLOCK].now()
    options, note = await _options(api, user_id, locale) if status.state == "connected" else ([], None)
    current = next((o.label for o in options if o.chosen), None)
    notice, notice_ok = _notice(request.query.get("calendar"), current, locale)
    return CalendarView(
        reachable=True,
        headline=say(headline, locale),
        tone="problem" if headline.key in PROBLEMS else "waiting" if headline.key in WAITING else "ok",
        details=[say(sentence, locale) for sentence in sync_health.details(health, now)],
        current=current or _problem_calendar(health),
        current_gone=headline.key == "health.calendar_unavailable",
        options=options,
        picker_note=note,
        notice=notice,
        notice_ok=notice_ok,
    )


def _problem_calendar(health: dict[str, Any]) -> str | None:
    problem = health.get("calendar_problem") or {}
    value = problem.get("calendar_id") or health.get("calendar_id")
    return value if isinstance(value, str) else None


async def _options(api: SyncApi, user_id: str, locale: str) -> tuple[list[Option], str | None]:
    """The picker's choices, or an empty list and why there are none."""
    t = TEXTS[locale]
    try:
        listed = await api.calendars(user_id)
    except SyncRefused as exc:
        if exc.code == "needs_consent":
            return [], t["picker.needs_consent"]
        if exc.code == "not_connected":
            return [], None
        return [], t["picker.unavailable"]
    except SyncUnavailable as exc:
        log.warning("calendar_list_unavailable", user_id=user_id, error=str(exc))
        return [], t["picker.unavailable"]
    options = []
    for entry in listed.get("calendars") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        name = str(entry.get("summary") or entry["id"])
        label = t["picker.primary"].format(name=name) if entry.get("primary") is True else name
        options.append(Option(entry["id"], label, entry.get("chosen") is True))
    return options, None


def _notice(outcome: str | None, current: str | None, locale: str) -> tuple[str | None, bool]:
    t = TEXTS[locale]
    if outcome == "saved":
        return (t["saved"].format(name=current), True) if current else (None, True)
    if outcome in REFUSALS or outcome in ("unavailable", "unreachable"):
        return t[f"refused.{outcome}"], False
    return None, True


async def choose(request: web.Request) -> web.StreamResponse:
    """POST /settings/calendar (CSRF-checked): ask sync to switch, then back to the section."""
    claims, form = await websession.checked_form(request)
    calendar_id = form.get("calendar_id", "")
    if not calendar_id or len(calendar_id) > 1024:
        return see_other(ANCHOR.format(outcome="unknown_calendar"))
    try:
        await request.app[SYNC_API].choose(claims.user_id, calendar_id)
    except SyncRefused as exc:
        outcome = exc.code if exc.code in REFUSALS else _FAILED.get(exc.code, "unreachable")
        log.info("calendar_choice_refused", user_id=claims.user_id, why=exc.code)
        return see_other(ANCHOR.format(outcome=outcome))
    except SyncUnavailable as exc:
        log.warning("calendar_choice_failed", user_id=claims.user_id, error=str(exc))
        return see_other(ANCHOR.format(outcome="unreachable"))
    log.info("calendar_chosen_on_settings_page", user_id=claims.user_id)
    return see_other(ANCHOR.format(outcome="saved"))

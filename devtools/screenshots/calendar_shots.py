"""The settings page's Calendar section for auth_pages' screenshots: the picker with every appointment
copied, appointments waiting until the user reconnects, and waiting for a calendar they can write to.
Appointments and grant events go on the bus as the platform and auth would send them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shared import messages as m
from tests.service.sync.support import booked
from tests.support.helpers import eventually

EMAIL = {"de": "jürgen.müller@example.com", "en": "alex.smith@example.com"}
NAMES = {"de": ("Praxis-Team", "Familie", "Projekt"), "en": ("Team", "Family", "Project")}
Steps = Callable[[Any, str], Awaitable[None]]


def _calendar(locale: str, index: int) -> str:
    return f"{NAMES['en'][index].lower()}-{locale}@group.calendar.google.com"


def shots(s: Any, locale: str) -> dict[str, Steps]:
    """``settings-calendar*`` shots for ``auth_pages.Shooter`` ``s``."""
    email = EMAIL[locale]
    for index, name in enumerate(NAMES[locale]):
        s.emulator.add_calendar(email, _calendar(locale, index), name, access_role="writer")

    async def ready(page: Any, user: str, appointments: int) -> None:
        await s.connected(page, user, locale)
        await eventually(lambda: _known(s, user, "calendar_id IS NOT NULL"))
        for number in range(appointments):
            await s.bus.publish(booked(f"{user}-a{number}", user, day=number))
        await eventually(lambda: _count(s, user, "synced", appointments))

    async def picker(page: Any, user: str) -> None:
        await ready(page, user, 2)
        await page.goto(await s.auth.link(user, locale) + "#calendar")

    async def waiting(page: Any, user: str) -> None:
        await ready(page, user, 0)
        await s.set_state(user, "disconnected", "revoked")
        await s.bus.publish(m.GrantDisconnected(user_id=user, grant_id="g", reason="revoked", since=m._now()))
        await eventually(lambda: _known(s, user, "state = 'disconnected'"))
        for number in range(3):
            await s.bus.publish(booked(f"{user}-a{number}", user, day=number))
        await eventually(lambda: _count(s, user, "pending", 3))
        await page.goto(await s.auth.link(user, locale) + "#calendar")

    async def unavailable(page: Any, user: str) -> None:
        await ready(page, user, 0)
        await page.goto(await s.auth.link(user, locale) + "#calendar")
        await page.locator("#calendar-choice").select_option(_calendar(locale, 2))
        await page.locator("#calendar-save").click()
        await page.wait_for_selector("#calendar-notice")
        s.emulator.remove_calendar(email, _calendar(locale, 2))
        for number in range(2):
            await s.bus.publish(booked(f"{user}-a{number}", user, day=number))
        await eventually(lambda: _known(s, user, "calendar_problem IS NOT NULL"))
        await page.goto(await s.auth.link(user, locale) + "#calendar")

    return {
        "settings-calendar": picker,
        "settings-calendar-waiting": waiting,
        "settings-calendar-unavailable": unavailable,
    }


async def _known(s: Any, user: str, condition: str) -> None:
    found = await s.db.fetchval(
        f"SELECT count(*) FROM sync.grant_states WHERE user_id = $1 AND {condition}", user
    )
    assert found == 1


async def _count(s: Any, user: str, state: str, expected: int) -> None:
    found = await s.db.fetchval(
        "SELECT count(*) FROM sync.appointments WHERE owner_user_id = $1 AND state = $2", user, state
    )
    assert found == expected

"""The story ``make demo`` plays against a local run: a user connects, appointments reach Google,
the user removes access at Google, gets the email, appointments booked meanwhile wait, the user
reconnects from the email, the backlog lands, and a change made in Google comes back by push."""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from devtools.demo.clients import Api, Browser, Bus, Targets, check_reachable
from devtools.demo.timeline import DemoFailed, NotYet, Step, Timeline
from shared import messages as m

RECONNECT = re.compile(r"Reconnect Google Calendar:\s+(\S+)")


@dataclass
class Cast:
    """Who plays: a fresh platform user and Google account per run, so a run repeats cleanly."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def user_id(self) -> str:
        return f"demo-{self.run}"

    @property
    def google_email(self) -> str:
        return f"demo-{self.run}@example.com"

    @property
    def contact_email(self) -> str:
        return f"demo-{self.run}@platform.example"

    def appointment(self, n: int, title: str) -> m.AppointmentCreated:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=n)
        return m.AppointmentCreated(
            appointment_id=f"{self.user_id}-a{n}",
            version=1,
            owner_user_id=self.user_id,
            account_id="demo-account",
            title=title,
            start=m.EventTime(date_time=start, time_zone="Europe/Berlin"),
            end=m.EventTime(date_time=start + timedelta(minutes=45), time_zone="Europe/Berlin"),
        )


@dataclass
class Story:
    api: Api
    browser: Browser
    bus: Bus
    cast: Cast
    timeline: Timeline
    link: str = ""  # the reconnect link of the email
    booked: list[m.AppointmentCreated] = field(default_factory=list)

    async def connected(self, step: Step) -> str:
        detail = await self.browser.round_trip(await self.api.link(self.cast.user_id))

        async def sync_knows() -> str:
            auth, sync = (
                await self.api.connection(self.cast.user_id),
                await self.api.health(self.cast.user_id),
            )
            if auth["state"] != "connected" or sync["calendar_id"] != self.cast.google_email:
                raise NotYet(f"auth says {auth['state']}, sync writes to {sync['calendar_id']}")
            return str(sync["calendar_id"])

        calendar = await step.until(sync_knows)
        await step.until(self.watched)
        return f"{detail}; auth: connected; sync writes to {calendar} and has a watch channel on it"

    async def watched(self) -> set[str]:
        """The ids of the live watch channels Google holds on the user's calendar (at least one)."""
        channels = await self.api.google_view("channels")
        live = {c["id"] for c in channels if c["calendar_id"] == self.cast.google_email and not c["stopped"]}
        if not live:
            raise NotYet("sync has no watch channel on the calendar (is SYNC_WEBHOOK_URL set?)")
        return live

    async def delivered_pushes(self, channel_ids: set[str]) -> int:
        """How many change notifications Google delivered on these channels (sync answered 2xx)."""
        pushes = await self.api.google_view("pushes")
        return sum(
            1
            for p in pushes
            if p["channel_id"] in channel_ids and p["state"] == "exists" and 200 <= (p["status"] or 0) < 300
        )

    async def publish(self, *appointments: m.AppointmentCreated) -> str:
        for appointment in appointments:
            await self.bus.platform.publish(appointment)
            self.booked.append(appointment)
        return ", ".join(f"{a.appointment_id} “{a.title}”" for a in appointments) + " confirmed by RabbitMQ"

    async def platform_books(self, _step: Step) -> str:
        contact = m.UserContactChanged(user_id=self.cast.user_id, email=self.cast.contact_email, name="Demo")
        await self.bus.platform.publish(contact)
        sent = await self.publish(self.cast.appointment(1, "Intro call"), self.cast.appointment(2, "Review"))
        return f"as the platform's broker user: {contact.TYPE}, {sent}"

    async def in_google(self, step: Step, appointments: list[m.AppointmentCreated]) -> str:
        async def written() -> str:
            ours = await self.api.ours_in_google(self.cast.google_email)
            missing = [a.appointment_id for a in appointments if a.appointment_id not in ours]
            if missing:
                raise NotYet(f"not in Google yet: {', '.join(missing)}")
            for a in appointments:
                state = await self.api.appointment(a.appointment_id)
                if state["state"] != "synced":
                    raise NotYet(f"sync says {a.appointment_id} is {state['state']}")
            return ", ".join(f"“{ours[a.appointment_id]['summary']}”" for a in appointments)

        return f"in {self.cast.google_email} (emulator): {await step.until(written)}; sync says synced"

    async def written(self, step: Step) -> str:
        return await self.in_google(step, self.booked)

    async def access_removed(self, _step: Step) -> str:
        await self.api.google("revoke_user", email=self.cast.google_email)
        answer = await self.api.google(
            "risc/send",
            receiver_url=self.api.t.auth + "/risc",
            event_type="tokens-revoked",
            email=self.cast.google_email,
        )
        status = answer.get("status") if isinstance(answer, dict) else None
        if not isinstance(status, int) or not 200 <= status < 300:
            raise NotYet(f"auth's /risc answered Google's security event with {status}")
        return f"emulator: grants revoked; Google's tokens-revoked event to auth's /risc answered {status}"

    async def disconnected(self, step: Step) -> str:
        async def gone() -> str:
            auth, sync = (
                await self.api.connection(self.cast.user_id),
                await self.api.health(self.cast.user_id),
            )
            if auth["state"] != "disconnected" or sync["grant_state"] != "disconnected":
                raise NotYet(f"auth says {auth['state']}, sync says {sync['grant_state']}")
            return str(auth["reason"])

        return f"auth: disconnected ({await step.until(gone)}); sync: disconnected"

    async def email(self, step: Step) -> str:
        async def arrived() -> dict[str, Any]:
            for message in await self.api.mail():
                if self.cast.contact_email in message["to"] and RECONNECT.search(message["text"]):
                    return message
            raise NotYet(f"no email to {self.cast.contact_email} with a reconnect link")

        message = await step.until(arrived)
        self.link = RECONNECT.search(message["text"]).group(1)  # type: ignore[union-attr]
        return f"mail catcher: “{message['subject']}” to {self.cast.contact_email}, with a reconnect link"

    async def waits(self, step: Step) -> str:
        waiting = self.cast.appointment(3, "Booked while disconnected")
        await self.publish(waiting)

        async def pending() -> str:
            state = await self.api.appointment(waiting.appointment_id)
            if state["state"] != "pending":
                raise NotYet(f"sync says {waiting.appointment_id} is {state['state']}")
            health = await self.api.health(self.cast.user_id)
            if health["pending"] < 1:
                raise NotYet("sync-health counts nothing pending")
            return str(state.get("why"))

        why = await step.until(pending)
        if waiting.appointment_id in await self.api.ours_in_google(self.cast.google_email):
            raise NotYet(f"{waiting.appointment_id} reached Google while disconnected")
        return f"sync: {waiting.appointment_id} pending ({why}); not in Google"

    async def reconnected(self, step: Step) -> str:
        detail = await self.browser.round_trip(self.link)

        async def back() -> str:
            auth, sync = (
                await self.api.connection(self.cast.user_id),
                await self.api.health(self.cast.user_id),
            )
            if auth["state"] != "connected" or sync["grant_state"] != "connected":
                raise NotYet(f"auth says {auth['state']}, sync says {sync['grant_state']}")
            return "auth and sync: connected"

        return f"the email's link: {detail}; {await step.until(back)}"

    async def backlog(self, step: Step) -> str:
        return await self.in_google(step, self.booked[-1:])

    async def move_in_google(self, appointment: m.AppointmentCreated) -> None:
        """The user drags the appointment's event two hours later in Google Calendar."""
        event = (await self.api.ours_in_google(self.cast.google_email))[appointment.appointment_id]
        later = {
            edge: {
                "dateTime": (datetime.fromisoformat(event[edge]["dateTime"]) + timedelta(hours=2)).isoformat()
            }
            for edge in ("start", "end")
        }
        await self.api.google(
            "user_put_event", calendar_id=self.cast.google_email, event={"id": event["id"], **later}
        )

    async def pushed_back(self, step: Step) -> str:
        first = self.booked[0]
        channels = await step.until(self.watched)
        before = await self.delivered_pushes(channels)
        await self.move_in_google(first)

        async def announced() -> dict[str, Any]:
            while not self.bus.seen.empty():
                seen = self.bus.seen.get_nowait()
                if seen.get("appointment_id") == first.appointment_id and seen.get("change") == "moved":
                    return seen
            raise NotYet("sync has published no appointment.external_change for it")

        seen = await step.until(announced)
        pushed = await self.delivered_pushes(channels) - before
        if pushed < 1:
            raise NotYet("sync saw the change, but Google delivered no push on the watch channel")
        return (
            f"moved “{first.title}” 2 h later in Google; Google pushed to sync's webhook ({pushed}×, answered)"
            f" → sync published {seen['routing_key']} (change: {seen['change']})"
        )


STEPS = (
    ("a user connects through Google's consent", Story.connected),
    ("the platform publishes appointments", Story.platform_books),
    ("they appear in Google Calendar", Story.written),
    ("the user removes our access at Google", Story.access_removed),
    ("auth disconnects the grant", Story.disconnected),
    ("the email arrives", Story.email),
    ("an appointment booked meanwhile waits", Story.waits),
    ("the user follows the email's link and reconnects", Story.reconnected),
    ("the backlog lands in Google", Story.backlog),
    ("a change made in Google comes back by push", Story.pushed_back),
)


async def play(targets: Targets, timeline: Timeline, *, step_timeout: float = 30.0) -> None:
    """Play every step against ``targets``; raises ``DemoFailed`` at the first failed check."""
    cast = Cast()
    async with aiohttp.ClientSession() as http:
        await check_reachable(http, targets)
        api = Api(http, targets)
        await api.google("add_user", email=cast.google_email, name="Demo User")
        await api.google("set_consent", email=cast.google_email)
        browser, bus = Browser(targets), Bus(targets)
        try:
            await bus.open()
            story = Story(api, browser, bus, cast, timeline)
            timeline.say(f"calsync demo: user {cast.user_id}, Google account {cast.google_email}")
            for number, (title, action) in enumerate(STEPS, start=1):
                await timeline.step(number, title, functools.partial(action, story), timeout=step_timeout)
        finally:
            with contextlib.suppress(aiohttp.ClientError, DemoFailed):  # the story's own error matters
                await api.google("set_consent")  # the consent screen signs in the first account again
            await browser.close()
            await bus.close()

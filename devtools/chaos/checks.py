"""The end state a chaos run must reach, read from the outside: Google (the emulator's stored
events), the mail catcher, the broker (queue depths, dead-letter queues) and the services' outboxes.
Each check is a line of the report: a name, whether it holds, and what was found."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import aio_pika
import asyncpg

from devtools.bench._procs import EmulatorAdmin
from devtools.chaos.faults import ALERT, Injector
from devtools.chaos.stack import RETRY_DELAYS_MS, Stack
from devtools.chaos.workload import Ledger, User
from shared import topology as t

TAG_APPOINTMENT, TAG_VERSION = "calsyncAppointmentId", "calsyncVersion"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    finding: bool = False  # reported (!) but not failing the run: the end state does not depend on it

    @property
    def passed(self) -> bool:
        return self.ok or self.finding

    @property
    def mark(self) -> str:
        return "✓" if self.ok else "!" if self.finding else "✗"


async def google_matches(emu: EmulatorAdmin, ledger: Ledger, users: list[User]) -> Check:
    """Every appointment's latest version is in its owner's calendar exactly once; a cancelled one
    is not there at all."""
    live: dict[str, list[dict[str, str]]] = {}
    for user in users:
        for event in await emu.view("events", calendar_id=user.google_email):
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if event.get("status") != "cancelled" and TAG_APPOINTMENT in private:
                live.setdefault(private[TAG_APPOINTMENT], []).append(
                    {
                        "version": private.get(TAG_VERSION, ""),
                        "summary": event.get("summary", ""),
                        "calendar": user.google_email,
                    }
                )
    missing = doubled = stale = leftover = misplaced = 0
    for key, latest in ledger.appointments.items():
        found = live.get(key, [])
        if latest.cancelled:
            leftover += bool(found)
        elif not found:
            missing += 1
        elif len(found) > 1:
            doubled += 1
        elif found[0]["version"] != str(latest.version) or found[0]["summary"] != latest.title:
            stale += 1
        elif found[0]["calendar"] != latest.owner.google_email:
            misplaced += 1
    unknown = len(set(live) - set(ledger.appointments))
    bad = missing + doubled + stale + leftover + misplaced + unknown
    cancelled = sum(latest.cancelled for latest in ledger.appointments.values())
    detail = (
        f"{len(ledger.appointments)} appointments ({cancelled} cancelled): {missing} missing, {doubled} doubled,"
        f" {stale} stale, {misplaced} in a wrong calendar, {leftover} cancelled but present, {unknown} unknown"
    )
    return Check("every appointment's latest version in Google exactly once", bad == 0, detail)


def alerts_once(stack: Stack, injector: Injector, users: list[User]) -> Check:
    """Each disconnected user got exactly one alert; nobody else got one."""
    counts = Counter(
        rcpt for received in stack.mail.received if ALERT in str(received.message["Subject"])
        for rcpt in received.rcpt_tos
    )  # fmt: skip
    revoked = {user.contact for user in injector.revoked}
    wrong = {
        u.contact: counts[u.contact] for u in users if counts[u.contact] != (1 if u.contact in revoked else 0)
    }
    detail = f"{len(revoked)} disconnected users, {sum(counts.values())} alerts" + (
        f"; wrong counts: {dict(list(wrong.items())[:5])}" if wrong else ", one each"
    )
    return Check("every disconnected user got exactly one alert email", not wrong, detail)


async def _depth(channel: aio_pika.abc.AbstractChannel, name: str) -> int:
    queue = await channel.declare_queue(name, passive=True)
    count = queue.declaration_result.message_count
    return int(count or 0)


async def queues_empty(stack: Stack) -> Check:
    """Work and delay queues hold nothing (only dead-letter queues may)."""
    assert stack.admin is not None
    full = {}
    async with await stack.admin.channel(1) as channel:
        for queue in t.QUEUES:
            for name in (queue, *(t.retry_queue(queue, d) for d in RETRY_DELAYS_MS)):
                depth = await _depth(channel, stack.prefix + name)
                if depth:
                    full[name] = depth
    detail = "all empty" if not full else f"not empty: {full}"
    return Check(f"no message outside a dead-letter queue ({len(t.QUEUES)} work queues and their delay queues)",
                 not full, detail)  # fmt: skip


IDLE = {
    "outbox rows unsent": "SELECT (SELECT count(*) FROM auth.outbox WHERE sent_at IS NULL)"
    " + (SELECT count(*) FROM sync.outbox WHERE sent_at IS NULL)"
    " + (SELECT count(*) FROM notifier.outbox WHERE sent_at IS NULL)",
    "appointments not written": "SELECT count(*) FROM sync.appointments WHERE state <> 'synced'",
    "emails due or being sent": "SELECT count(*) FROM notifier.jobs WHERE state = 'sending'"
    " OR (state = 'pending' AND due_at <= now())",
}


async def services_idle(stack: Stack) -> Check:
    """Nothing is left to do: every saved event published, every appointment written (none failed
    or waiting), no email due; so the other checks are final, not a moment of a moving state."""
    connection = await asyncpg.connect(stack.dsn)
    try:
        left = {name: int(await connection.fetchval(query)) for name, query in IDLE.items()}
    finally:
        await connection.close()
    busy = {name: count for name, count in left.items() if count}
    detail = "nothing left" if not busy else ", ".join(f"{name}: {count}" for name, count in busy.items())
    return Check("the services have nothing left to do (outboxes, writer, emails)", not busy, detail)


async def dead_letters(stack: Stack, injector: Injector) -> Check:
    """The dead-letter queues hold the malformed messages, each once, and nothing else (read without
    taking them: each message is rejected back after being looked at)."""
    assert stack.admin is not None
    found: dict[str, list[str]] = {}
    reasons: Counter[str] = Counter()
    async with await stack.admin.channel(200) as channel:
        for queue in t.QUEUES:
            source = await channel.declare_queue(stack.prefix + t.dead_queue(queue), passive=True)
            seen = []
            while (message := await source.get(no_ack=False, fail=False)) is not None:
                seen.append(message.message_id or "?")
                if message.message_id not in injector.malformed_ids:
                    reasons[_reason(message)] += 1
            if seen:
                found[t.dead_queue(queue)] = seen
    everything = sorted(i for ids in found.values() for i in ids)
    expected = sorted(injector.malformed_ids)
    ok = everything == expected and set(found) <= {t.dead_queue("sync.appointments")}
    detail = f"{len(everything)} dead-lettered, {len(expected)} malformed published" + (
        ""
        if ok
        else f"; by queue: { ({k: len(v) for k, v in found.items()}) }, other reasons: {dict(reasons)}"
    )
    return Check("dead-letter queues hold only the malformed messages", ok, detail)


def _reason(message: aio_pika.abc.AbstractIncomingMessage) -> str:
    """Why a message was dead-lettered: our consumers' header, or RabbitMQ's own x-death reason."""
    headers = message.headers or {}
    if "x-calsync-reason" in headers:
        return str(headers["x-calsync-reason"])[:80]
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return "broker: " + str(deaths[0].get("reason"))
    return "unknown"


def recovered(stack: Stack, injector: Injector) -> Check:
    """Every fault was injected and everything it broke came back (restarts ready, users reconnected),
    and every service process still runs."""
    dead = [
        f"{name} exited"
        for name, service in stack.services.items()
        if service.child is None or service.child.process.poll() is not None
    ]
    problems = injector.failures + dead
    detail = "all" if not problems else "; ".join(problems[:3])
    return Check("every fault injected and recovered from", not problems, detail)


def restarts_needed(injector: Injector) -> Check:
    """A restarted service came up on its own; a restart by the supervisor is a finding of the run."""
    detail = "yes" if not injector.supervised else "; ".join(injector.supervised[:3])
    return Check(
        "every restarted service started at the first attempt", not injector.supervised, detail, True
    )


async def all_checks(stack: Stack, emu: EmulatorAdmin, injector: Injector, ledger: Ledger,
                     users: list[User]) -> list[Check]:  # fmt: skip
    return [
        recovered(stack, injector),
        restarts_needed(injector),
        await google_matches(emu, ledger, users),
        alerts_once(stack, injector, users),
        await queues_empty(stack),
        await services_idle(stack),
        await dead_letters(stack, injector),
    ]


async def settle(stack: Stack, emu: EmulatorAdmin, injector: Injector, ledger: Ledger, users: list[User],
                 timeout: float) -> tuple[list[Check], float]:  # fmt: skip
    """Check until everything holds or ``timeout`` passes; the last results and the seconds waited."""
    began = time.perf_counter()
    while True:
        checks = await all_checks(stack, emu, injector, ledger, users)
        waited = time.perf_counter() - began
        if all(check.passed for check in checks) or waited > timeout:
            return checks, waited
        await asyncio.sleep(2)  # the system is still catching up; look again

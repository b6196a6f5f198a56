"""One chaos run from start to report: the stack comes up, users connect, the appointment stream
flows while the seeded faults are injected, then the end-state checks are polled until they hold
(or time runs out) and a one-screen report says what was injected when and what was checked."""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

from devtools.bench._procs import EmulatorAdmin
from devtools.chaos.checks import Check, settle
from devtools.chaos.faults import Injector, Timeline, make_plan
from devtools.chaos.stack import RETRY_DELAYS_MS, SERVICE_TOKEN, Stack, running_stack
from devtools.chaos.workload import Connector, Ledger, Stream, make_users, run_stream, seed_users
from tests.support.helpers import eventually


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class Settings:
    """Sizes and fault counts; the full form by default, ``short()`` for the test suite."""

    events: int = field(default_factory=lambda: _env_int("CHAOS_EVENTS", 10_000))
    users: int = field(default_factory=lambda: _env_int("CHAOS_USERS", 200))
    seed: int = field(default_factory=lambda: _env_int("CHAOS_SEED", 1))
    rate: float = field(default_factory=lambda: float(os.environ.get("CHAOS_RATE", "80")))
    kills: int = 2  # per service
    nodes: int = 2  # RabbitMQ nodes killed and restarted, one after the other
    revoked: int = 10
    malformed: int = 5
    google_share: float = 0.2
    workers: int = 16
    settle_seconds: float = 600.0
    step_seconds: float = 240.0  # one fault from injection to recovery, at most

    @classmethod
    def short(cls) -> Settings:
        """One of each fault kind on 500 events for 20 users."""
        return cls(events=_env_int("CHAOS_EVENTS", 500), users=_env_int("CHAOS_USERS", 20),
                   rate=float(os.environ.get("CHAOS_RATE", "40")), kills=1, nodes=1, revoked=2,
                   malformed=2, workers=8, settle_seconds=45.0, step_seconds=75.0)  # fmt: skip


@dataclass
class Outcome:
    settings: Settings
    timeline: Timeline
    checks: list[Check]
    facts: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)


async def chaos(settings: Settings) -> Outcome:
    timeline = Timeline()
    async with running_stack(settings.workers) as stack, aiohttp.ClientSession() as http:
        timeline.note(f"stack ready ({_seconds(stack.setup_seconds)})")
        emu = EmulatorAdmin(http, stack.emulator_url)
        try:
            outcome = await _run(settings, stack, emu, timeline)
            stack.keep_logs = not outcome.ok
            return outcome
        except BaseException:
            print(stack.tails())
            raise


async def _run(settings: Settings, stack: Stack, emu: EmulatorAdmin, timeline: Timeline) -> Outcome:
    draw = random.Random(settings.seed)
    users = make_users(settings.users)
    assert stack.platform is not None
    await seed_users(emu, stack.platform, users)
    connector = Connector(emu, stack.services["auth"].url, SERVICE_TOKEN)
    for user in users:
        await connector.connect(user)
    await _calendars_resolved(stack, len(users))
    timeline.note(f"{len(users)} users connected through OAuth, calendars resolved")
    ledger = Ledger()
    stream_seconds = settings.events / settings.rate
    plan = make_plan(draw, stream_seconds=stream_seconds, users=settings.users, kills=settings.kills,
                     nodes=settings.nodes, revoked=settings.revoked, malformed=settings.malformed)  # fmt: skip
    injector = Injector(stack, emu, connector, users, timeline, step_timeout=settings.step_seconds)
    await injector.google_faults(settings.google_share, settings.seed)
    timeline.note(f"stream of {settings.events} events begins ({settings.rate:g}/s)")
    injecting = asyncio.create_task(injector.run(plan))

    async def progress(n: int) -> None:
        if n % max(1000, settings.events // 5) == 0:
            timeline.note(f"{n} events published")

    await run_stream(Stream(users, draw, ledger), stack.platform, settings.events, settings.rate, progress)
    timeline.note(
        f"stream done: {ledger.published} published ({ledger.publish_retries} sent again after a failed publish)"
    )
    await injecting  # Google keeps failing until every other fault is over
    injected = await injector.google_recovers()
    timeline.note("every fault injected, everything back up; checking the end state")
    checks, waited = await settle(stack, emu, injector, ledger, users, settings.settle_seconds)
    timeline.note(
        f"end state {'reached' if all(c.passed for c in checks) else 'NOT reached'} after {waited:.0f} s"
    )
    facts = {
        "seed": str(settings.seed),
        "events / users / appointments": f"{settings.events} / {settings.users} / {len(ledger.appointments)}",
        "Google faults injected": ", ".join(f"{k}: {v}" for k, v in sorted(injected.items())) or "none",
        "service settings": f"SYNC_WORKERS={settings.workers}, AMQP_RETRY_DELAYS_MS="
        f"{','.join(map(str, RETRY_DELAYS_MS))}, SYNC_LEASE_SECONDS=15, GOOGLE_HTTP_TIMEOUT_SECONDS=3",
        "broker": f"3-node cluster {'brought up for the run' if stack.cluster_started_here else 'already running'}",
    }
    return Outcome(settings, timeline, checks, facts)


async def _calendars_resolved(stack: Stack, count: int) -> None:
    async def check() -> None:
        connection = await asyncpg.connect(stack.dsn)
        try:
            resolved = await connection.fetchval(
                "SELECT count(*) FROM sync.grant_states WHERE calendar_id IS NOT NULL"
            )
        finally:
            await connection.close()
        assert resolved == count, f"{resolved} of {count} calendars resolved"

    await eventually(check, timeout=120, interval=0.5)


def _seconds(stages: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.0f} s" for name, value in stages.items())


def report(outcome: Outcome) -> str:
    """The one-screen report: settings, each fault with its second, each check with ✓ or ✗."""
    lines = [f"calsync chaos run, {datetime.now(UTC).isoformat(timespec='seconds')}", ""]
    lines += [f"  {name}: {value}" for name, value in outcome.facts.items()]
    lines += ["", "Injected (seconds since start):"]
    lines += [f"  {second:7.1f}  {what}" for second, what in outcome.timeline.entries]
    lines += ["", "Checked (! marks a finding that does not change the end state):"]
    lines += [f"  {c.mark} {c.name}: {c.detail}" for c in outcome.checks]
    lines += ["", "RESULT: " + ("all checks hold" if outcome.ok else "FAILED")]
    return "\n".join(lines)


def write_report(text: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{datetime.now(UTC):%Y-%m-%d}-chaos.md"
    path.write_text(f"# Chaos run\n\n`make chaos`\n\n```\n{text}\n```\n")
    return path

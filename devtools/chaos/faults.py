"""The faults of a chaos run: a seeded schedule (each fault at a moment of the stream) and the code
that injects each kind, logging what it did and when into the ``Timeline`` the report prints.

Kinds: SIGKILL a service and start it again; SIGKILL a RabbitMQ node and start it again (one node
down at a time: two would leave the cluster without a majority); restart PostgreSQL; Google fails a
share of the Calendar calls (5xx, 429, held replies) for the length of the stream; a user's grant is
revoked at Google (or the password changed) and the user reconnects through the alert email's link;
a malformed appointment message is published."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from email.message import EmailMessage

from devtools.bench._procs import EmulatorAdmin
from devtools.chaos.stack import GOOGLE_TIMEOUT_SECONDS, SERVICES, Stack, cluster
from devtools.chaos.workload import Connector, User, surely
from shared import messages as m

ALERT = "no longer connected"
STARTUP_PROBE_SECONDS = 45.0
LINK = re.compile(r"Reconnect Google Calendar:\s+(\S+)")
MALFORMED = (
    b"{not json",
    b'{"type": "appointment.created", "schema_version": 1}',
    b'{"type": "appointment.created", "schema_version": 1, "appointment_id": "", "version": 0}',
    b"\xff\xfe binary",
    b'["an", "array"]',
)


@dataclass
class Timeline:
    """What was injected, at which second of the run."""

    began: float = field(default_factory=time.perf_counter)
    entries: list[tuple[float, str]] = field(default_factory=list)

    def now(self) -> float:
        return time.perf_counter() - self.began

    def note(self, what: str) -> int:
        """Log ``what`` now; returns its index for ``amend``."""
        self.entries.append((round(self.now(), 1), what))
        return len(self.entries) - 1

    def amend(self, index: int, more: str) -> None:
        """Add how a fault ended to its line (``more`` says after how many seconds)."""
        second, what = self.entries[index]
        self.entries[index] = (second, f"{what}; {more}")

    def since(self, index: int) -> str:
        return f"{self.now() - self.entries[index][0]:.1f} s"


@dataclass(frozen=True)
class Plan:
    """When each fault happens, in seconds after the stream starts (``stream_seconds`` long)."""

    stream_seconds: float
    kills: list[tuple[float, str, float]]  # (moment, service, seconds it stays dead)
    node_restarts: list[tuple[float, int]]
    postgres_restarts: list[float]
    revocations: list[tuple[float, int, str]]  # (moment, user index, "revoke" | "change_password")
    malformed: list[float]


def make_plan(draw: random.Random, *, stream_seconds: float, users: int, kills: int, nodes: int,
              revoked: int, malformed: int) -> Plan:  # fmt: skip
    """A seeded schedule: kills and restarts between 10 % and 85 % of the stream, revocations
    before 60 % (the user's next appointment must meet the dead grant), distinct users and nodes."""

    def moment(low: float = 0.1, high: float = 0.85) -> float:
        return round(draw.uniform(low, high) * stream_seconds, 1)

    chosen_nodes = draw.sample([1, 2, 3], k=min(nodes, 3))
    return Plan(
        stream_seconds,
        kills=sorted(
            (moment(), service, round(draw.uniform(0.2, 3.0), 1))
            for service in SERVICES
            for _ in range(kills)
        ),
        node_restarts=sorted(zip(sorted(moment(0.15, 0.7) for _ in chosen_nodes), chosen_nodes, strict=True)),
        postgres_restarts=[moment()],
        revocations=sorted(
            (moment(0.1, 0.6), index, "revoke" if n % 2 == 0 else "change_password")
            for n, index in enumerate(draw.sample(range(users), k=min(revoked, users)))
        ),
        malformed=sorted(moment(0.05, 0.95) for _ in range(malformed)),
    )


@dataclass
class Injector:
    stack: Stack
    emu: EmulatorAdmin
    connector: Connector
    users: list[User]
    timeline: Timeline
    step_timeout: float = 240.0  # one fault, from injection to recovery (a restart, a reconnection)
    malformed_ids: list[str] = field(default_factory=list)
    revoked: list[User] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    supervised: list[str] = field(default_factory=list)  # restarts a supervisor would have made
    _service_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _node_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run(self, plan: Plan) -> None:
        """Every fault of ``plan`` at its moment (measured from now); returns when all are done and
        every killed piece is back."""
        start = time.perf_counter()

        async def at(second: float, action: Awaitable[None]) -> None:
            await asyncio.sleep(max(0.0, start + second - time.perf_counter()))  # the fault's moment
            try:
                async with asyncio.timeout(self.step_timeout):
                    await action
            except (TimeoutError, RuntimeError, AssertionError, OSError) as exc:
                self.failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                self.timeline.note(f"FAILED to inject or recover: {type(exc).__name__}: {str(exc)[:120]}")

        jobs = [at(s, self.kill_service(name, d)) for s, name, d in plan.kills]
        jobs += [at(s, self.restart_node(n)) for s, n in plan.node_restarts]
        jobs += [at(s, self.restart_postgres()) for s in plan.postgres_restarts]
        jobs += [at(s, self.revoke(self.users[i], how)) for s, i, how in plan.revocations]
        jobs += [at(s, self.publish_malformed(n)) for n, s in enumerate(plan.malformed)]
        await asyncio.gather(*jobs)

    async def kill_service(self, name: str, down_seconds: float) -> None:
        lock = self._service_locks.setdefault(name, asyncio.Lock())
        async with lock:  # a second kill waits until the first restart is ready
            service = self.stack.services[name]
            service.kill()
            line = self.timeline.note(f"kill -9 {name}")
            await asyncio.sleep(down_seconds)  # how long it stays dead
            await self._start_supervised(name, line)
            self.timeline.amend(
                line, f"started after {down_seconds:.1f} s, ready after {self.timeline.since(line)}"
            )

    async def _start_supervised(self, name: str, line: int) -> None:
        """Start the service as its supervisor would (Kubernetes' startup probe and restart policy):
        a process that exits during start-up, or is not ready within ``STARTUP_PROBE_SECONDS``, is
        stopped and started again, up to three times; each such restart is reported."""
        service = self.stack.services[name]
        for attempt in range(1, 4):
            service.start()
            try:
                await service.ready(timeout=STARTUP_PROBE_SECONDS)
                return
            except (TimeoutError, RuntimeError) as exc:
                how = "not ready in time" if isinstance(exc, TimeoutError) else "exited during start-up"
                service.stop()
                self.supervised.append(f"{name} {how} (start {attempt}), started again")
                self.timeline.amend(line, f"{how} (start {attempt}) after {self.timeline.since(line)}")
        raise RuntimeError(f"{name} did not start in three attempts")

    async def restart_node(self, node: int) -> None:
        async with self._node_lock:
            await cluster("kill", str(node))
            line = self.timeline.note(f"kill -9 RabbitMQ node {node}")
            await cluster("start", str(node))
            self.timeline.amend(line, f"restarted, rejoined after {self.timeline.since(line)}")

    async def restart_postgres(self) -> None:
        line = self.timeline.note("PostgreSQL restart (pg_ctl restart -m fast)")
        await self.stack.postgres.restart()
        self.timeline.amend(line, f"accepting connections after {self.timeline.since(line)}")

    async def google_faults(self, share: float, seed: int) -> None:
        await self.emu.call("fail_share", share=share, statuses=[500, 503, 429, "timeout"],
                            hang_seconds=GOOGLE_TIMEOUT_SECONDS + 1, seed=seed)  # fmt: skip
        self.timeline.note(f"Google Calendar fails {share:.0%} of calls (500/503/429/timeout)")

    async def google_recovers(self) -> dict[str, int]:
        injected: dict[str, int] = (await self.emu.view("stats"))["injected"]
        await self.emu.call("clear_faults")
        await self.emu.call("set_calendar_latency", min_ms=5, max_ms=20)
        self.timeline.note(f"Google faults cleared after {sum(injected.values())} injected {injected}")
        return injected

    async def revoke(self, user: User, how: str) -> None:
        if how == "revoke":
            await self.emu.call("revoke_user", email=user.google_email)
        else:
            await self.emu.call("change_password", email=user.google_email, revokes_calendar=True)
        self.revoked.append(user)
        line = self.timeline.note(f"{how.replace('_', ' ')} at Google for {user.user_id}")
        alert = await self._alert_for(user)
        self.timeline.amend(line, f"alert after {self.timeline.since(line)}")
        match = LINK.search(_plain(alert))
        if match is None:
            raise AssertionError(f"the alert for {user.user_id} has no reconnect link")
        await self.connector.connect(user, match.group(1))
        self.timeline.amend(line, f"reconnected through its link after {self.timeline.since(line)}")

    async def _alert_for(self, user: User) -> EmailMessage:
        def mine(msg: EmailMessage) -> bool:
            return ALERT in str(msg["Subject"]) and user.contact in str(msg["To"])

        return await self.stack.mail.wait_for(mine, timeout=self.step_timeout)

    async def publish_malformed(self, n: int) -> None:
        message_id = f"chaos-malformed-{n}"
        body = MALFORMED[n % len(MALFORMED)]
        platform = self.stack.platform
        assert platform is not None
        await surely(lambda: platform.publish_raw(m.PLATFORM_EVENTS, m.AppointmentCreated.ROUTING_KEY, body,
                                                  message_id=message_id, message_type="appointment.created"))  # fmt: skip
        self.malformed_ids.append(message_id)
        self.timeline.note(f"malformed message {message_id}: {body[:24]!r}")


def _plain(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    return str(part.get_content()) if part is not None else ""

"""Benchmark: appointment events for many users go from RabbitMQ through sync (its own process:
consumer, pending row, writer claim, token, events.insert, outcome) into the Google emulator (its
own process, every Calendar call answered after 30-50 ms); then a bare floor (``_sync_floor``, its
own process: consume, one insert, one commit, ack) does the same appointments at the same
concurrency on the same machine. Prints events/s, p50/p99 from publish to the event stored in
Google (the emulator's ``created`` against the publisher's clock), CPU seconds per event and peak
resident memory of each, the ratio ours / floor, and writes them to ``bench/results/``.

auth is not run: a stand-in in this process answers ``token.requested`` as auth's broker user with
an emulator access token per user (sync caches it, so it is asked about once per user). Every
appointment is published at once (a backlog, as after an outage), so the latencies include the
wait behind it. ``BENCH_SYNC_EVENTS``, ``BENCH_SYNC_USERS``, ``BENCH_SYNC_WORKERS`` (sync's
``SYNC_WORKERS``, and the floor's prefetch), ``BENCH_SYNC_DB_POOL`` and ``BENCH_SYNC_LATENCY_MS``
override the defaults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from devtools.bench import _procs
from devtools.bench._procs import Child, EmulatorAdmin
from shared import messages as m
from shared.amqp import Broker
from shared.config import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL, BrokerUsers, CommonConfig
from shared.logs import configure_logging
from shared.rpc import serve as serve_rpc
from tests.support.bus import BrokerUsersMissing, PublishingBroker, check_logins, user_url
from tests.support.helpers import eventually

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
]
CLIENT = ("calsync-test-client.apps.googleusercontent.com", "calsync-test-secret")
PUBLISH_TASKS = 16  # publishes awaiting the broker's confirm at once
FLOOR_QUEUE = "bench.sync_floor"
FLOOR_TABLE = "bench_floor"
DELAYS = CommonConfig(service="sync").retry_delays_ms


@dataclass(frozen=True)
class Settings:
    events: int = int(os.environ.get("BENCH_SYNC_EVENTS", "10000"))
    users: int = int(os.environ.get("BENCH_SYNC_USERS", "100"))
    # Google calls in flight: 500 events/s at 40 ms need at least 20 (sync's default is 4).
    workers: int = int(os.environ.get("BENCH_SYNC_WORKERS", "32"))
    db_pool: int = int(os.environ.get("BENCH_SYNC_DB_POOL", "20"))
    latency_ms: str = os.environ.get("BENCH_SYNC_LATENCY_MS", "30:50")
    results: Path | None = RESULTS


@dataclass
class Phase:
    """One run (ours or the floor): when each appointment was published, and the process's cost."""

    published: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    publish_seconds: float = 0.0


@dataclass
class Bench:
    settings: Settings
    admin_url: str
    dsn: str
    prefix: str
    logs: Path
    users: BrokerUsers
    accounts: dict[str, list[str]] = field(default_factory=dict)  # user id -> [email, access token]
    children: list[Child] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds since the start, per stage
    began: float = field(default_factory=time.perf_counter)

    def start(self, name: str, module: str, *args: str, **env: str) -> Child:
        child = _procs.start(name, module, list(args), env, self.logs)
        self.children.append(child)
        return child

    def reached(self, stage: str) -> None:
        self.stages[stage] = round(time.perf_counter() - self.began, 2)


async def measure(settings: Settings) -> dict[str, Any]:
    """Run both phases and return the figures (also written to ``settings.results`` if set)."""
    async with environment(settings, "bench") as bench:
        return await _run(bench)


@contextlib.asynccontextmanager
async def environment(settings: Settings, tag: str) -> AsyncIterator[Bench]:
    """A database and broker prefix (``tag`` + random) of a bench's own, removed afterwards with
    every child process; a failure prints the end of each child's log."""
    admin_url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    admin_dsn = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    db_name = f"calsync_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    users = BrokerUsers()
    try:
        await check_logins(admin_url, users)
    except BrokerUsersMissing:
        users = BrokerUsers(verify=False)  # one login for everyone, verification off (said in the output)
    with tempfile.TemporaryDirectory(prefix=f"calsync-{tag}-") as logs:
        dsn = admin_dsn.rpartition("/")[0] + "/" + db_name
        bench = Bench(settings, admin_url, dsn, f"{tag}{uuid.uuid4().hex[:6]}.", Path(logs), users)
        try:
            yield bench
        except BaseException:
            for child in bench.children:  # what the processes said, for the failure's cause
                print(f"--- {child.name} log (end)\n{child.log.read_text(errors='replace')[-4000:]}")
            raise
        finally:
            for child in bench.children:
                child.stop()
            await _delete_topology(bench)
            await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            await admin.close()


async def _delete_topology(bench: Bench) -> None:
    broker = Broker(bench.admin_url, prefix=bench.prefix, retry_delays_ms=DELAYS)
    await broker.connect()
    await broker.delete_topology()
    channel = await broker.channel(1)
    await channel.queue_delete(bench.prefix + FLOOR_QUEUE)  # none in benches without the floor
    await broker.close()


async def _run(bench: Bench) -> dict[str, Any]:
    """The three processes start side by side (the floor idles until its turn), then the two runs."""
    load_before = os.getloadavg()
    port = _procs.free_port()  # known in advance, so that sync can start alongside the emulator
    emulator = bench.start("emulator", "devtools.google_emulator", "--port", str(port),
                           "--latency-ms", bench.settings.latency_ms)  # fmt: skip
    floor = bench.start("floor", "devtools.bench._sync_floor", **_floor_env(bench))
    calendar_base = f"http://127.0.0.1:{port}/calendar/v3/"
    sync_env = _sync_env(bench, calendar_base)
    sync = bench.start("sync", "services.sync", **sync_env)
    started = await _procs.wait_for_line(emulator, "emulator_started")
    if started["calendar_base_url"] != calendar_base:
        raise RuntimeError(
            f"the emulator serves Calendar at {started['calendar_base_url']}, not {calendar_base}"
        )
    broker: Broker = (
        PublishingBroker(bench.admin_url, users=bench.users, prefix=bench.prefix, retry_delays_ms=DELAYS)
        if bench.users.verify
        else Broker(bench.admin_url, prefix=bench.prefix, retry_delays_ms=DELAYS, users=bench.users)
    )
    await broker.connect()
    async with aiohttp.ClientSession() as http:
        try:
            emu = EmulatorAdmin(http, started["base_url"])
            await _seed_accounts(bench, emu)
            setup = {"calendar_base": calendar_base, "accounts": bench.accounts}
            (bench.logs / "floor-setup.json").write_text(json.dumps(setup))
            await broker.declare(["auth.token_requests"])
            auth = await broker.as_publisher("auth") if isinstance(broker, PublishingBroker) else broker
            await serve_rpc(auth, "auth.token_requests", m.TokenRequested, _token_stand_in(bench.accounts))
            await _procs.wait_ready(sync, f"http://127.0.0.1:{sync_env['INTERNAL_PORT']}/readyz")
            bench.reached("sync ready")
            ours = await _ours(bench, broker, sync)
            await _procs.wait_for_line(floor, "floor_ready")
            bench.reached("floor ready")
            bare = await _floor(bench, broker, floor)
            created = await _created(bench, emu)
            emulator_cpu = emulator.cpu_seconds()
        finally:
            await broker.close()
    bench.reached("events read")
    figures = _figures(bench, ours, bare, created)
    figures["stages"] = bench.stages
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "emulator_cpu_seconds": round(emulator_cpu, 1),
    }
    return figures


async def _seed_accounts(bench: Bench, emu: EmulatorAdmin) -> None:
    for i in range(bench.settings.users):
        email = f"bench{i}@example.com"
        await emu.call("add_user", email=email)
        token = await emu.call("grant_token", email=email, scopes=SCOPES)
        bench.accounts[f"user-{i}"] = [email, token]


def _token_stand_in(accounts: dict[str, list[str]]) -> Callable[[m.Message], Awaitable[m.Message]]:
    async def answer(message: m.Message) -> m.Message:
        assert isinstance(message, m.TokenRequested)
        account = accounts.get(message.user_id)
        if account is None:
            return m.TokenReply(user_id=message.user_id, status="no_grant")
        expires = datetime.now(UTC) + timedelta(hours=1)
        return m.TokenReply(
            user_id=message.user_id, status="token", access_token=account[1], expires_at=expires
        )

    return answer


def _sync_env(bench: Bench, calendar_base: str) -> dict[str, str]:
    port = _procs.free_port()
    return {
        "DATABASE_URL": bench.dsn,
        "AMQP_URL": user_url(bench.admin_url, bench.users.sync) if bench.users.verify else bench.admin_url,
        "AMQP_PREFIX": bench.prefix,
        "AMQP_VERIFY_PUBLISHERS": "true" if bench.users.verify else "false",
        "HTTP_PORT": str(port),
        "INTERNAL_HOST": "127.0.0.1",
        "INTERNAL_PORT": str(_procs.free_port()),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SERVICE_TOKEN": "bench-" + uuid.uuid4().hex,
        "GOOGLE_CLIENT_ID": CLIENT[0],
        "GOOGLE_CLIENT_SECRET": CLIENT[1],
        "GOOGLE_CALENDAR_BASE_URL": calendar_base,
        "LOG_LEVEL": "WARNING",
        "SYNC_WORKERS": str(bench.settings.workers),
        "DB_POOL_SIZE": str(bench.settings.db_pool),
        "ENVIRONMENT": "development",
    }


async def _ours(bench: Bench, broker: Broker, sync: Child) -> Phase:
    async with asyncpg.create_pool(bench.dsn, min_size=1, max_size=2) as pool:
        for user_id, (email, _) in bench.accounts.items():
            await broker.publish(m.GrantConnected.model_validate({
                "user_id": user_id, "grant_id": f"g-{user_id}", "cause": "connected",
                "google_sub": f"sub-{email}", "google_email": email,
            }))  # fmt: skip

        async def calendars_resolved() -> None:
            resolved = await pool.fetchval(
                "SELECT count(*) FROM sync.grant_states WHERE calendar_id IS NOT NULL"
            )
            assert resolved == len(bench.accounts), resolved

        await eventually(calendars_resolved, timeout=60, interval=0.1)
        bench.reached("calendars resolved")

        async def publish(message: m.AppointmentCreated) -> None:
            await broker.publish(message)

        async def synced() -> int:
            return int(await pool.fetchval("SELECT count(*) FROM sync.appointments WHERE state = 'synced'"))

        return await _phase(bench, sync, "sync", publish, synced)


def _floor_env(bench: Bench) -> dict[str, str]:
    return {
        "FLOOR_AMQP_URL": bench.admin_url,
        "FLOOR_QUEUE": bench.prefix + FLOOR_QUEUE,
        "FLOOR_DSN": bench.dsn,
        "FLOOR_SETUP": str(bench.logs / "floor-setup.json"),
        "FLOOR_PREFETCH": str(bench.settings.workers),
    }


async def _floor(bench: Bench, broker: Broker, floor: Child) -> Phase:
    queue = bench.prefix + FLOOR_QUEUE
    async with asyncpg.create_pool(bench.dsn, min_size=1, max_size=1) as pool:

        async def publish(message: m.AppointmentCreated) -> None:
            await broker.publish_raw("", queue, message.to_json(), message_id=message.message_id,
                                     message_type=message.TYPE)  # fmt: skip

        async def stored() -> int:
            return int(await pool.fetchval(f"SELECT count(*) FROM {FLOOR_TABLE}"))

        return await _phase(bench, floor, "floor", publish, stored)


def _appointments(bench: Bench, tag: str) -> list[m.AppointmentCreated]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    users = list(bench.accounts)
    made = []
    for i in range(bench.settings.events):
        begins = start + timedelta(minutes=15 * i)
        made.append(m.AppointmentCreated(
            appointment_id=f"{tag}{i:06d}", version=1, owner_user_id=users[i % len(users)],
            account_id="acc-bench", title=f"Appointment {i}", location="Room 4",
            start=m.EventTime(date_time=begins, time_zone="Europe/Berlin"),
            end=m.EventTime(date_time=begins + timedelta(minutes=30), time_zone="Europe/Berlin"),
        ))  # fmt: skip
    return made


async def _phase(
    bench: Bench,
    child: Child,
    name: str,
    publish: Callable[[m.AppointmentCreated], Awaitable[None]],
    done: Callable[[], Awaitable[int]],
) -> Phase:
    """Publish every appointment at once, wait until ``done()`` counts them all, then stop ``child``.
    Appointment ids start with the phase name's first letter, so the two phases never share one."""
    todo = iter(_appointments(bench, name[0]))
    phase = Phase()
    cpu_before = child.cpu_seconds()

    async def publisher() -> None:
        for message in todo:
            phase.published[message.appointment_id] = time.time()
            await publish(message)

    began = time.perf_counter()
    await asyncio.gather(*(publisher() for _ in range(PUBLISH_TASKS)))
    phase.publish_seconds = time.perf_counter() - began

    async def all_done() -> None:
        child.alive()
        count = await done()
        assert count == bench.settings.events, f"{count} of {bench.settings.events}"

    await eventually(all_done, timeout=max(120.0, bench.settings.events / 10), interval=0.2)
    phase.cpu_seconds = child.cpu_seconds() - cpu_before
    phase.peak_rss_mb = child.peak_rss_mb()
    bench.reached(f"{name} run done")
    child.stop()
    return phase


async def _created(bench: Bench, emu: EmulatorAdmin) -> dict[str, list[float]]:
    """When each appointment's event was stored in Google (every insert, by appointment id)."""
    created: dict[str, list[float]] = {}
    for email, _ in bench.accounts.values():
        for event in await emu.view("events", calendar_id=email):
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if "calsyncAppointmentId" in private:
                at = datetime.fromisoformat(event["created"]).timestamp()
                created.setdefault(private["calsyncAppointmentId"], []).append(at)
    return created


def _summary(phase: Phase, created: dict[str, list[float]], events: int) -> dict[str, float]:
    latencies = sorted(min(created[key]) - sent for key, sent in phase.published.items() if key in created)
    missing = sum(1 for key in phase.published if key not in created)
    duplicates = sum(len(created[key]) - 1 for key in phase.published if key in created)
    span = max(min(created[key]) for key in phase.published if key in created) - min(phase.published.values())
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "events_per_second": round(events / span, 1),
        "seconds": round(span, 2),
        "publish_seconds": round(phase.publish_seconds, 2),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "cpu_seconds": round(phase.cpu_seconds, 2),
        "cpu_ms_per_event": round(phase.cpu_seconds / events * 1000, 3),
        "peak_rss_mb": round(phase.peak_rss_mb, 1),
        "missing": missing,
        "duplicates": duplicates,
    }


def _figures(bench: Bench, ours: Phase, floor: Phase, created: dict[str, list[float]]) -> dict[str, Any]:
    settings = bench.settings
    mine, bare = _summary(ours, created, settings.events), _summary(floor, created, settings.events)
    return {
        "benchmark": "sync outbound",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "broker_users": "per-service users, publisher verification on"
        if bench.users.verify
        else "one login (guest), publisher verification off",
        "sync_config": {
            "SYNC_WORKERS": settings.workers,
            "DB_POOL_SIZE": settings.db_pool,
            "SYNC_PER_USER_IN_FLIGHT": 2,
            "consumer prefetch": 10,
        },
        "ours": mine,
        "floor": bare,
        "ratio": round(mine["events_per_second"] / bare["events_per_second"], 2),
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as a Markdown table (printed, and kept in ``bench/results/``)."""
    ours, floor, machine, settings = (
        figures["ours"],
        figures["floor"],
        figures["machine"],
        figures["settings"],
    )
    config = ", ".join(f"{k}={v}" for k, v in figures["sync_config"].items())
    rows = [
        ("appointments / users", f"{settings['events']} / {settings['users']}", ""),
        ("Calendar latency (emulator)", f"{settings['latency_ms']} ms", "same"),
        ("broker users", figures["broker_users"], "guest"),
        ("concurrency", config, f"prefetch {settings['workers']}"),
        ("events per second", f"{ours['events_per_second']}", f"{floor['events_per_second']}"),
        ("publish → Google p50", f"{ours['p50_ms']} ms", f"{floor['p50_ms']} ms"),
        ("publish → Google p99", f"{ours['p99_ms']} ms", f"{floor['p99_ms']} ms"),
        ("CPU per event", f"{ours['cpu_ms_per_event']} ms", f"{floor['cpu_ms_per_event']} ms"),
        ("CPU seconds (whole run)", f"{ours['cpu_seconds']}", f"{floor['cpu_seconds']}"),
        ("peak memory (VmHWM)", f"{ours['peak_rss_mb']} MiB", f"{floor['peak_rss_mb']} MiB"),
        ("publishing took", f"{ours['publish_seconds']} s", f"{floor['publish_seconds']} s"),
        ("missing / duplicate events", f"{ours['missing']} / {ours['duplicates']}",
         f"{floor['missing']} / {floor['duplicates']}"),
        ("ratio ours / floor", f"{figures['ratio']}  (aim >= 0.7, and >= 500 events/s)", ""),
        ("machine", f"{machine['cpus']} CPUs, load {machine['load_before']} before, "
                    f"{machine['load_after']} after", ""),
        ("emulator CPU seconds", f"{machine['emulator_cpu_seconds']} (both runs)", ""),
    ]  # fmt: skip
    lines = ["| figure | sync | floor |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {other} |" for name, value, other in rows]
    return "\n".join(lines)


def _write(figures: dict[str, Any], directory: Path) -> Path:
    heading = f"# sync outbound benchmark, {figures['at']}\n\n`make bench` (`python -m devtools.bench --only sync_outbound`)\n\n"
    return _procs.write_results(directory, "sync-outbound", figures, heading + table(figures)).with_suffix(
        ".json"
    )


def run() -> int:
    configure_logging("WARNING")
    settings = Settings()
    figures = asyncio.run(measure(settings))
    print("\nsync outbound benchmark\n")
    print(table(figures))
    if settings.results is not None:
        print(f"\nwritten to {_write(figures, settings.results)}")
    ok = all(figures[side]["missing"] == 0 and figures[side]["duplicates"] == 0 for side in ("ours", "floor"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(run())

"""Soak (``make soak``): sync under a steady, moderate load for ``SOAK_SECONDS`` (default 600), its
memory, open connections and queue depths sampled, to show nothing grows without bound.

The set-up is the webhook benchmark's (devtools/bench): the Google emulator and sync in their own
processes, 20 connected users with live watch channels, auth's token answers from a stand-in. Then
``SOAK_RATE`` (default 20) appointment events a second, each user's appointments created, updated
and cancelled in turn, while every write makes the emulator push a notification back to sync (an
inbound sync follows). Every ``SOAK_SAMPLE_SECONDS`` (10) it records sync's resident memory, its
open file descriptors, its PostgreSQL connections, its AMQP connections, the depth of sync's queues
and the appointments not yet written. At the end every appointment must be in its final state in
Google, and memory must be flat: after the first fifth (warm-up), the mean of the last quarter of
the samples at most 10 % above the mean of the second quarter.

Writes ``bench/results/<date>-soak.md`` with the figures, ``.json`` with every sample and ``.png``
with the plots; ``python -m devtools.soak`` runs it (``SOAK_RESULTS=`` writes nothing)."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from devtools.bench import _procs, sync_outbound, webhook
from devtools.bench._procs import Child, EmulatorAdmin
from shared import messages as m
from shared.amqp import Broker
from shared.logs import configure_logging

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
AMQP_PORT_HEX = f"{5672:04X}"
FLAT_WITHIN = 0.10  # memory may grow at most this much from the second quarter to the last


@dataclass(frozen=True)
class Settings:
    seconds: float = float(os.environ.get("SOAK_SECONDS", "600"))
    rate: float = float(os.environ.get("SOAK_RATE", "20"))
    sample_seconds: float = float(os.environ.get("SOAK_SAMPLE_SECONDS", "10"))
    users: int = int(os.environ.get("SOAK_USERS", "20"))
    latency_ms: str = "30:50"
    results: Path | None = Path(os.environ["SOAK_RESULTS"]) if os.environ.get("SOAK_RESULTS") else RESULTS


@dataclass(frozen=True)
class Sample:
    at_seconds: float
    rss_mb: float
    open_fds: int
    db_connections: int
    amqp_connections: int
    queue_depth: int
    unwritten: int
    published: int


@dataclass
class Soak:
    settings: Settings
    samples: list[Sample] = field(default_factory=list)
    latest: dict[str, m.Message] = field(default_factory=dict)  # appointment id -> last message sent


async def measure(settings: Settings) -> dict[str, Any]:
    """Run the soak; the figures (with every sample)."""
    outbound = sync_outbound.Settings(
        users=settings.users, workers=4, db_pool=10, latency_ms=settings.latency_ms, results=None
    )
    async with sync_outbound.environment(outbound, "soak") as bench:
        return await _run(Soak(settings), bench)


async def _run(soak: Soak, bench: sync_outbound.Bench) -> dict[str, Any]:
    async with webhook.watched(bench, soak.settings.latency_ms, "WARNING") as live:
        await _steady(soak, bench, live.broker, live.db, live.sync)
        bench.reached("load done")
        missing = await _settled(soak, bench, live.emu, live.db, live.sync)
        bench.reached("settled")
    return _figures(soak, bench, missing)


async def _steady(
    soak: Soak, bench: sync_outbound.Bench, broker: Broker, db: asyncpg.Pool, sync: Child
) -> None:
    """Publish at the set rate for the set time, sampling every ``sample_seconds``."""
    settings, began = soak.settings, time.monotonic()
    next_sample, sent = began, 0
    while (elapsed := time.monotonic() - began) < settings.seconds:
        due = int(elapsed * settings.rate) + 1
        while sent < due:
            message = _next_message(list(bench.accounts), sent)
            await broker.publish(message)
            soak.latest[message.appointment_id] = message
            sent += 1
        if time.monotonic() >= next_sample:
            soak.samples.append(await _sample(bench, db, broker, sync, elapsed, sent))
            next_sample += settings.sample_seconds
        await asyncio.sleep(min(1 / settings.rate, 0.05))  # pacing the publisher to the set rate


def _next_message(
    users: list[str], n: int
) -> m.AppointmentCreated | m.AppointmentUpdated | m.AppointmentCancelled:
    """The n-th event: each appointment is created, updated twice, then cancelled; then a new one."""
    appointment, step = divmod(n, 4)
    appointment_id = f"soak{appointment:07d}"
    if step == 3:
        return m.AppointmentCancelled(
            appointment_id=appointment_id,
            version=4,
            owner_user_id=users[appointment % len(users)],
            account_id="acc-soak",
        )
    begins = datetime(2031, 1, 1, 8, tzinfo=UTC) + timedelta(minutes=30 * (appointment % 2000) + 5 * step)
    kind = m.AppointmentCreated if step == 0 else m.AppointmentUpdated
    return kind(
        appointment_id=appointment_id,
        version=step + 1,
        owner_user_id=users[appointment % len(users)],
        account_id="acc-soak",
        title=f"Soak {appointment} v{step + 1}",
        start=m.EventTime(date_time=begins, time_zone="Europe/Berlin"),
        end=m.EventTime(date_time=begins + timedelta(minutes=20), time_zone="Europe/Berlin"),
    )


async def _sample(
    bench: sync_outbound.Bench, db: asyncpg.Pool, broker: Broker, sync: Child, elapsed: float, sent: int
) -> Sample:
    sync.alive()
    pid = sync.process.pid
    return Sample(
        at_seconds=round(elapsed, 1),
        rss_mb=round(_status_kib(pid, "VmRSS") / 1024, 1),
        open_fds=len(os.listdir(f"/proc/{pid}/fd")),
        db_connections=int(
            await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sync'"
            )
        ),
        amqp_connections=_amqp_connections(pid),
        queue_depth=await _queue_depth(broker, bench.prefix),
        unwritten=int(await db.fetchval("SELECT count(*) FROM sync.appointments WHERE state <> 'synced'")),
        published=sent,
    )


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _amqp_connections(pid: int) -> int:
    """The process's TCP connections to port 5672 (its sockets' inodes in /proc/net/tcp)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if cols[2].endswith(":" + AMQP_PORT_HEX) and cols[9] in inodes:
                count += 1
    return count


async def _queue_depth(broker: Broker, prefix: str) -> int:
    """Messages ready in sync's queues (not their dead-letter or retry queues)."""
    channel = await broker.channel(1)
    total = 0
    for name in ("sync.appointments", "sync.grant_events"):
        queue = await channel.get_queue(prefix + name, ensure=True)
        total += queue.declaration_result.message_count or 0
    return total


async def _settled(
    soak: Soak, bench: sync_outbound.Bench, emu: EmulatorAdmin, db: asyncpg.Pool, sync: Child
) -> int:
    """Wait until sync has written everything; the appointments whose Google event is not in its
    final state exactly once (a cancelled one gone, any other once, at its last title)."""
    deadline = time.monotonic() + 300
    while await db.fetchval("SELECT count(*) FROM sync.appointments WHERE state <> 'synced'"):
        sync.alive()
        if time.monotonic() > deadline:
            raise TimeoutError("sync did not write every appointment within 300 s of the load's end")
        await asyncio.sleep(0.5)  # polling sync's table for its writer's work
    titles: dict[str, list[str]] = {}
    for email, _ in bench.accounts.values():
        for event in await emu.view("events", calendar_id=email):
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if "calsyncAppointmentId" in private and event.get("status") != "cancelled":
                titles.setdefault(private["calsyncAppointmentId"], []).append(event.get("summary", ""))
    wanted = {key: getattr(message, "title", None) for key, message in soak.latest.items()}
    return sum(1 for key, title in wanted.items() if titles.get(key, []) != ([title] if title else []))


def _figures(soak: Soak, bench: sync_outbound.Bench, missing: int) -> dict[str, Any]:
    samples = soak.samples
    steady = samples[len(samples) // 5 :] or samples
    quarter = max(1, len(steady) // 4)
    second = statistics.fmean(s.rss_mb for s in steady[quarter : 2 * quarter] or steady)
    last = statistics.fmean(s.rss_mb for s in steady[-quarter:])
    return {
        "benchmark": "soak",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(soak.settings).items()},
        "published": samples[-1].published if samples else 0,
        "appointments": len(soak.latest),
        "not_in_final_state": missing,
        "rss_mb": {
            "min": min(s.rss_mb for s in samples),
            "max": max(s.rss_mb for s in samples),
            "second_quarter_mean": round(second, 1),
            "last_quarter_mean": round(last, 1),
        },
        "memory_growth": round(last / second - 1, 4),
        "flat": last <= second * (1 + FLAT_WITHIN),
        "max": {
            key: max(getattr(s, key) for s in samples)
            for key in ("open_fds", "db_connections", "amqp_connections", "queue_depth", "unwritten")
        },
        "stages": bench.stages,
        "machine": {"cpus": os.cpu_count(), "load_after": [round(v, 2) for v in os.getloadavg()]},
        "samples": [asdict(s) for s in samples],
    }


def table(figures: dict[str, Any]) -> str:
    rss, top, settings = figures["rss_mb"], figures["max"], figures["settings"]
    rows = [
        (
            "load",
            f"{settings['rate']} events/s for {settings['seconds']} s, {settings['users']} users,"
            f" pushes on ({figures['published']} events, {figures['appointments']} appointments)",
        ),
        (
            "sync resident memory",
            f"{rss['min']}–{rss['max']} MiB; second quarter {rss['second_quarter_mean']},"
            f" last quarter {rss['last_quarter_mean']} MiB",
        ),
        (
            "memory growth",
            f"{figures['memory_growth']:+.1%}  (flat: at most +{FLAT_WITHIN:.0%})"
            f" {'met' if figures['flat'] else 'MISSED'}",
        ),
        ("most open files", str(top["open_fds"])),
        ("most PostgreSQL / AMQP connections", f"{top['db_connections']} / {top['amqp_connections']}"),
        ("deepest queue / most unwritten", f"{top['queue_depth']} / {top['unwritten']}"),
        ("appointments not in their final state", f"{figures['not_in_final_state']}  (must be 0)"),
        ("machine", f"{figures['machine']['cpus']} CPUs, load {figures['machine']['load_after']} at the end"),
    ]
    return "\n".join(["| figure | sync |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def plot(figures: dict[str, Any], path: Path) -> None:
    """Memory, connections and queue depth over time, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = figures["samples"]
    minutes = [s["at_seconds"] / 60 for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    axes[0].plot(minutes, [s["rss_mb"] for s in samples], marker=".")
    axes[0].set_ylabel("sync RSS (MiB)")
    axes[0].set_ylim(bottom=0)
    for key, label in (
        ("db_connections", "PostgreSQL"),
        ("amqp_connections", "AMQP"),
        ("open_fds", "open files"),
    ):
        axes[1].plot(minutes, [s[key] for s in samples], marker=".", label=label)
    axes[1].set_ylabel("count")
    axes[1].legend(loc="upper left")
    for key, label in (("queue_depth", "queued messages"), ("unwritten", "appointments not yet written")):
        axes[2].plot(minutes, [s[key] for s in samples], marker=".", label=label)
    axes[2].set_ylabel("count")
    axes[2].set_xlabel("minutes")
    axes[2].legend(loc="upper left")
    fig.suptitle(f"sync soak, {figures['at']}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write(figures: dict[str, Any], directory: Path) -> Path:
    """``<date>-soak.json``, ``.png`` and ``.md`` in ``directory``; the Markdown file's path."""
    name = f"{datetime.now(UTC):%Y-%m-%d}-soak"
    heading = f"# sync soak, {figures['at']}\n\n`make soak` (`python -m devtools.soak`)\n\n"
    report = _procs.write_results(
        directory, "soak", figures, heading + table(figures) + f"\n\n![soak]({name}.png)"
    )
    plot(figures, report.with_suffix(".png"))
    return report


def run() -> int:
    configure_logging("WARNING")
    settings = Settings()
    figures = asyncio.run(measure(settings))
    print("\nsync soak\n")
    print(table(figures))
    if settings.results is not None:
        print(f"\nwritten to {write(figures, settings.results)}")
    return 0 if figures["flat"] and figures["not_in_final_state"] == 0 else 1


if __name__ == "__main__":
    sys.exit(run())

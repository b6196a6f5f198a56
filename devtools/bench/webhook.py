"""Benchmark: Google's push notifications into sync's webhook (``POST /webhooks/google/calendar``).

sync runs in its own process against the Google emulator (its own process, Calendar answered after
30-50 ms), with 10 connected users: each user's initial sync runs and the channel keeper makes
their watch channel with the emulator (the real path; the channel's id, token and resource id are
then read back from the emulator's ``channels`` view, as Google would send them). Then:

1. ``wrk`` sends one channel's ``exists`` notification (its real X-Goog-* headers) to sync, and
   the same wrk run goes to a bare aiohttp app in its own process that only answers 200 on the same
   path, in ``rounds`` interleaved pairs: requests per second and p99 of each in the round with the
   median ratio, and the ratio (aim: at least half the bare rate, p99 under 20 ms).
2. A burst of 10,000 notifications rotating over the 10 channels, sent by wrk (same threads and
   connections) as fast as sync answers them; once the inbound engine is idle, the ``events.list`` calls the emulator received for it (aim: at most
   30: the intake and the ``calendar_syncs`` row coalesce them per calendar).

sync logs as in production (``LOG_FORMAT=json``, ``LOG_LEVEL=INFO``). wrk comes from Debian
(``scripts/ensure-wrk.sh`` installs it when run as root); without it the benchmark says so and
fails. ``BENCH_WEBHOOK_DURATION`` (wrk's ``-d``, default 10s), ``BENCH_WEBHOOK_ROUNDS`` (3),
``BENCH_WEBHOOK_CONNECTIONS`` (32),
``BENCH_WEBHOOK_BURST`` (10000), ``BENCH_WEBHOOK_CALENDARS`` (10) and ``BENCH_WEBHOOK_LOG_LEVEL``
(sync's ``LOG_LEVEL``, INFO: one line per request) override the defaults.
``python -m devtools.bench.webhook bare`` is the bare app (port from ``BARE_PORT``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from devtools.bench import _procs, sync_outbound
from devtools.bench._procs import Child, EmulatorAdmin
from shared import messages as m
from shared.amqp import Broker
from shared.logs import configure_logging
from shared.rpc import serve as serve_rpc
from tests.support.bus import PublishingBroker

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
PATH = "/webhooks/google/calendar"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
SETTLE_SECONDS = 2.5  # the engine counts as idle once nothing changed this long (its poll is 1 s)


@dataclass(frozen=True)
class Settings:
    duration: str = os.environ.get("BENCH_WEBHOOK_DURATION", "10s")
    connections: int = int(os.environ.get("BENCH_WEBHOOK_CONNECTIONS", "32"))
    threads: int = 1
    rounds: int = int(os.environ.get("BENCH_WEBHOOK_ROUNDS", "3"))
    burst: int = int(os.environ.get("BENCH_WEBHOOK_BURST", "10000"))
    calendars: int = int(os.environ.get("BENCH_WEBHOOK_CALENDARS", "10"))
    latency_ms: str = "30:50"
    log_level: str = os.environ.get("BENCH_WEBHOOK_LOG_LEVEL", "INFO")
    results: Path | None = RESULTS


@dataclass(frozen=True)
class WatchedChannel:
    """What Google sends with each notification of a channel (the token is a secret: never printed)."""

    channel_id: str
    token: str
    resource_id: str
    resource_uri: str


@dataclass
class Run:
    settings: Settings
    wrk: str
    bench: sync_outbound.Bench
    channels: list[WatchedChannel] = field(default_factory=list)


def find_wrk() -> str | None:
    """wrk's path: ``scripts/ensure-wrk.sh`` installs it if it can; None if it is still missing."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "ensure-wrk.sh")], capture_output=True, text=True, check=False
    )
    sys.stderr.write(done.stderr)
    return done.stdout.strip() or None if done.returncode == 0 else None


async def measure(settings: Settings, wrk: str) -> dict[str, Any]:
    """Start the processes, run both measurements, return the figures."""
    outbound = sync_outbound.Settings(users=settings.calendars, workers=4, db_pool=10,
                                      latency_ms=settings.latency_ms, results=None)  # fmt: skip
    async with sync_outbound.environment(outbound, "benchw") as bench:
        return await _run(Run(settings, wrk, bench))


async def _run(run: Run) -> dict[str, Any]:
    bench = run.bench
    load_before = os.getloadavg()
    bare_port = _procs.free_port()
    bare = bench.start("bare", "devtools.bench.webhook", "bare", BARE_PORT=str(bare_port))
    async with watched(bench, run.settings.latency_ms, run.settings.log_level) as live:
        run.channels = live.channels
        sync_url, bare_url = live.sync_url + PATH, f"http://127.0.0.1:{bare_port}{PATH}"
        await _procs.wait_ready(bare, bare_url)
        rounds = []
        for _ in range(run.settings.rounds):  # interleaved, so a noisy neighbour hits both alike
            ours = await _wrk(run, sync_url, _steady_script(run.channels[0]), live.sync)
            floor = await _wrk(run, bare_url, _steady_script(run.channels[0]), bare)
            rounds.append((ours, floor))
        bench.reached("steady load done")
        await _settled(live.db, live.emu, live.sync)
        burst = await _burst(run, sync_url, live.db, live.emu, live.sync)
        bench.reached("burst settled")
    return _figures(run, rounds, burst, load_before)


@dataclass(frozen=True)
class Watched:
    """sync and the emulator (each in its own process) with every bench user connected and its
    watch channel live; what a benchmark drives them with."""

    sync: Child
    sync_url: str  # sync's public base URL
    emu: EmulatorAdmin
    db: asyncpg.Pool  # on the bench's database
    broker: Broker  # publishes as each message's documented publisher
    channels: list[WatchedChannel]


@contextlib.asynccontextmanager
async def watched(bench: sync_outbound.Bench, latency_ms: str, log_level: str) -> AsyncIterator[Watched]:
    """Start the emulator (Calendar answered after ``latency_ms``) and sync with pushes on, stand
    in for auth's token answers, connect every user and wait until each channel is live."""
    port = _procs.free_port()
    emulator = bench.start(
        "emulator", "devtools.google_emulator", "--port", str(port), "--latency-ms", latency_ms
    )
    sync_env = _sync_env(bench, f"http://127.0.0.1:{port}/calendar/v3/", log_level)
    sync = bench.start("sync", "services.sync", **sync_env)
    started = await _procs.wait_for_line(emulator, "emulator_started")
    broker: Broker = (
        PublishingBroker(bench.admin_url, users=bench.users, prefix=bench.prefix,
                         retry_delays_ms=sync_outbound.DELAYS)
        if bench.users.verify
        else Broker(bench.admin_url, prefix=bench.prefix, retry_delays_ms=sync_outbound.DELAYS,
                    users=bench.users)
    )  # fmt: skip
    await broker.connect()
    try:
        async with (
            aiohttp.ClientSession() as http,
            asyncpg.create_pool(bench.dsn, min_size=1, max_size=2) as db,
        ):
            emu = EmulatorAdmin(http, started["base_url"])
            await sync_outbound._seed_accounts(bench, emu)
            await broker.declare(["auth.token_requests"])
            auth = await broker.as_publisher("auth") if isinstance(broker, PublishingBroker) else broker
            stand_in = sync_outbound._token_stand_in(bench.accounts)
            await serve_rpc(auth, "auth.token_requests", m.TokenRequested, stand_in)
            await _procs.wait_ready(sync, f"http://127.0.0.1:{sync_env['INTERNAL_PORT']}/readyz")
            await _connect_users(bench, broker)
            channels = await _watched_channels(bench, emu, db)
            bench.reached("channels live")
            yield Watched(sync, sync_env["PUBLIC_BASE_URL"], emu, db, broker, channels)
    finally:
        await broker.close()


def _sync_env(bench: sync_outbound.Bench, calendar_base: str, log_level: str) -> dict[str, str]:
    """The outbound benchmark's sync settings, with pushes on and logs as in production."""
    env = sync_outbound._sync_env(bench, calendar_base)
    return {
        **env,
        "LOG_LEVEL": log_level,
        "LOG_FORMAT": "json",
        "SYNC_WEBHOOK_URL": env["PUBLIC_BASE_URL"] + PATH,
        "SYNC_CHANNEL_RECONCILE_SECONDS": "0.2",
    }


async def _connect_users(bench: sync_outbound.Bench, broker: Broker) -> None:
    for user_id, (email, _) in bench.accounts.items():
        await broker.publish(m.GrantConnected.model_validate({
            "user_id": user_id, "grant_id": f"g-{user_id}", "cause": "connected",
            "google_sub": f"sub-{email}", "google_email": email,
        }))  # fmt: skip


async def _watched_channels(
    bench: sync_outbound.Bench, emu: EmulatorAdmin, db: asyncpg.Pool
) -> list[WatchedChannel]:
    """Wait until every user's channel is live in sync, then read each as Google holds it."""
    deadline = time.monotonic() + 90
    while True:
        live = await db.fetchval("SELECT count(*) FROM sync.watch_channels WHERE state = 'live'")
        if live == len(bench.accounts):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{live} of {len(bench.accounts)} channels live")
        await asyncio.sleep(0.1)  # polling sync's table for its channel keeper's work
    ids = {row["channel_id"] for row in await db.fetch("SELECT channel_id FROM sync.watch_channels")}
    return [
        WatchedChannel(c["id"], c["token"], c["resource_id"], c["resource_uri"])
        for c in await emu.view("channels")
        if c["id"] in ids
    ]


async def _events_lists(emu: EmulatorAdmin) -> int:
    """events.list calls the emulator received so far (GET .../calendars/{id}/events)."""
    return sum(
        1
        for r in await emu.view("requests")
        if r["method"] == "GET" and re.fullmatch(r"/calendar/v3/calendars/[^/]+/events", r["path"])
    )


async def _settled(db: asyncpg.Pool, emu: EmulatorAdmin, sync: Child) -> int:
    """Wait until the inbound engine is idle (every calendar idle and synced after its last push,
    and no events.list for ``SETTLE_SECONDS``); the events.list count then."""
    deadline, last, since = time.monotonic() + 120, -1, time.monotonic()
    while time.monotonic() < deadline:
        sync.alive()
        busy = await db.fetchval(
            "SELECT count(*) FROM sync.calendar_syncs WHERE state <> 'idle'"
            " OR (last_push_at IS NOT NULL AND last_synced_at < last_push_at)"
        )
        count = await _events_lists(emu)
        if busy or count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= SETTLE_SECONDS:
            return count
        await asyncio.sleep(0.25)  # polling the engine's table and the emulator's request log
    raise TimeoutError("the inbound engine did not settle within 120 s")


def _steady_script(channel: WatchedChannel) -> str:
    """wrk's Lua: one channel's ``exists`` notification, again and again (JSON strings are valid
    Lua string literals for these values)."""
    lines = ['wrk.method = "POST"']
    lines += [
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in _google_headers(channel, 1).items()
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Load:
    """What one wrk run reported, and the server's CPU seconds during it."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    cpu_seconds: float


async def _wrk(run: Run, url: str, script: str, server: Child, *, until: Path | None = None) -> Load:
    """One wrk run with ``script``; with ``until``, it is ended (SIGINT: wrk then reports as usual)
    as soon as the script creates that file, instead of after ``duration``."""
    path = run.bench.logs / f"wrk-{uuid.uuid4().hex[:6]}.lua"  # holds a channel token: temp dir only
    path.write_text(script)
    settings = run.settings
    duration = "120s" if until else settings.duration
    cpu_before = server.cpu_seconds()
    wrk = await asyncio.create_subprocess_exec(
        run.wrk, f"-t{settings.threads}", f"-c{settings.connections}", f"-d{duration}", "--latency",
        "-s", str(path), url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    if until is not None:
        await _interrupt_once_created(wrk, until)
    out, err = await wrk.communicate()
    cpu = server.cpu_seconds() - cpu_before
    path.unlink()
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk exited with {wrk.returncode}: {err.decode(errors='replace').strip()}")
    return parse_wrk(out.decode(), cpu)


async def _interrupt_once_created(wrk: asyncio.subprocess.Process, marker: Path) -> None:
    """SIGINT to wrk as soon as ``marker`` exists (wrk then stops and reports as usual)."""
    while wrk.returncode is None:
        if marker.exists():  # noqa: ASYNC240 - one stat of a local file per poll
            wrk.send_signal(signal.SIGINT)
            return
        await asyncio.sleep(0.005)  # polling for the script's file


def _burst_script(channels: list[WatchedChannel], limit: int, done: Path) -> str:
    """wrk's Lua: notifications rotating over the channels with rising message numbers; after
    ``limit`` answers the thread stops and the file ``done`` is created."""
    rows = ", ".join(
        "{"
        + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in _google_headers(c, 0).items())
        + "}"
        for c in channels
    )
    return f"""local channels = {{{rows}}}
local sent, answered, limit = 0, 0, {limit}
request = function()
  sent = sent + 1
  local headers = channels[(sent % #channels) + 1]
  headers["X-Goog-Message-Number"] = tostring(sent + 1)
  return wrk.format("POST", nil, headers, nil)
end
response = function(status, headers, body)
  answered = answered + 1
  if answered == limit then
    local f = io.open({json.dumps(str(done))}, "w")
    f:write("done")
    f:close()
    wrk.thread:stop()
  end
end
"""


def parse_wrk(output: str, cpu_seconds: float = 0.0) -> Load:
    """wrk's summary (with ``--latency``) as figures."""

    def latency(quantile: str) -> float:
        found = re.search(rf"^\s*{quantile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if found is None:
            raise ValueError(f"no {quantile}% latency in wrk's output:\n{output}")
        return round(float(found[1]) * UNITS[found[2]], 2)

    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if total is None or rate is None:
        raise ValueError(f"not a wrk summary:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Load(
        requests=int(total[1]),
        seconds=round(float(total[2]) * UNITS[total[3]] / 1000, 2),
        requests_per_second=round(float(rate[1]), 1),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        cpu_seconds=round(cpu_seconds, 2),
    )


async def _burst(run: Run, url: str, db: asyncpg.Pool, emu: EmulatorAdmin, sync: Child) -> dict[str, Any]:
    """``burst`` notifications rotating over the channels, sent by wrk as fast as sync answers;
    then the events.list calls they caused, once the engine is idle again."""
    before = await _events_lists(emu)
    done = run.bench.logs / "burst.done"
    load = await _wrk(run, url, _burst_script(run.channels, run.settings.burst, done), sync, until=done)
    after = await _settled(db, emu, sync)
    return {
        "notifications": load.requests,
        "answered_200": load.requests - load.non_2xx,
        "seconds": load.seconds,
        "per_second": load.requests_per_second,
        "p99_ms": load.p99_ms,
        "calendars": len(run.channels),
        "events_list_calls": after - before,
        "events_list_per_calendar_second": round((after - before) / len(run.channels) / load.seconds, 2),
    }


def _google_headers(channel: WatchedChannel, number: int) -> dict[str, str]:
    return {
        "User-Agent": "APIs-Google",
        "X-Goog-Channel-ID": channel.channel_id,
        "X-Goog-Channel-Token": channel.token,
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-URI": channel.resource_uri,
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": str(number),
    }


def _ratio(pair: tuple[Load, Load]) -> float:
    return round(pair[0].requests_per_second / pair[1].requests_per_second, 2)


def _figures(
    run: Run, rounds: list[tuple[Load, Load]], burst: dict[str, Any], load_before: tuple[float, ...]
) -> dict[str, Any]:
    """The figures of the round with the median ratio (each round: sync, then bare)."""
    settings, bench = run.settings, run.bench
    ours, floor = sorted(rounds, key=_ratio)[len(rounds) // 2]
    return {
        "benchmark": "sync webhook",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "wrk": f"wrk -t{settings.threads} -c{settings.connections} -d{settings.duration} --latency",
        "broker_users": "per-service users, publisher verification on"
        if bench.users.verify
        else "one login (guest), publisher verification off",
        "sync_logging": f"LOG_FORMAT=json LOG_LEVEL={settings.log_level}",
        "ours": asdict(ours),
        "bare": asdict(floor),
        "ratio": _ratio((ours, floor)),
        "round_ratios": [_ratio(pair) for pair in rounds],
        "burst": burst,
        "stages": bench.stages,
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": [round(v, 2) for v in load_before],
            "load_after": [round(v, 2) for v in os.getloadavg()],
        },
    }


def verdicts(figures: dict[str, Any]) -> dict[str, bool]:
    """Each aim of the benchmark, met or not."""
    return {
        "rate at least half the bare rate": figures["ratio"] >= 0.5,
        "p99 under 20 ms": figures["ours"]["p99_ms"] < 20,
        "burst: at most 30 events.list": figures["burst"]["events_list_calls"] <= 30,
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as a Markdown table (printed, and kept in ``bench/results/``)."""
    ours, bare, burst, machine = figures["ours"], figures["bare"], figures["burst"], figures["machine"]
    rows = [
        ("wrk", figures["wrk"], "same"),
        ("requests per second", f"{ours['requests_per_second']}", f"{bare['requests_per_second']}"),
        ("p50 latency", f"{ours['p50_ms']} ms", f"{bare['p50_ms']} ms"),
        ("p99 latency", f"{ours['p99_ms']} ms  (aim < 20 ms)", f"{bare['p99_ms']} ms"),
        ("requests (non-2xx, socket errors)", f"{ours['requests']} ({ours['non_2xx']}, {ours['socket_errors']})",
         f"{bare['requests']} ({bare['non_2xx']}, {bare['socket_errors']})"),
        ("server CPU seconds", f"{ours['cpu_seconds']}", f"{bare['cpu_seconds']}"),
        ("ratio sync / bare", f"{figures['ratio']}  (aim >= 0.5; median of rounds"
                              f" {', '.join(map(str, figures['round_ratios']))})", ""),
        ("burst", f"{burst['notifications']} notifications for {burst['calendars']} calendars in"
                  f" {burst['seconds']} s ({burst['per_second']}/s, {burst['answered_200']} answered 200)", ""),
        ("events.list calls for the burst", f"{burst['events_list_calls']}  (aim <= 30 for a burst within 1 s)", ""),
        ("events.list per calendar per burst second", f"{burst['events_list_per_calendar_second']}", ""),
        ("sync logging", figures["sync_logging"], ""),
        ("broker users", figures["broker_users"], ""),
        ("machine", f"{machine['cpus']} CPUs, load {machine['load_before']} before, "
                    f"{machine['load_after']} after", ""),
    ]  # fmt: skip
    return "\n".join(
        ["| figure | sync | bare aiohttp |", "|---|---|---|", *(f"| {' | '.join(r)} |" for r in rows)]
    )


def _write(figures: dict[str, Any], directory: Path) -> Path:
    """``<date>-sync-webhook.json`` (the figures) and ``.md`` (the table) in ``directory``."""
    how = "`make bench` (`python -m devtools.bench --only webhook`)"
    markdown = f"# sync webhook benchmark, {figures['at']}\n\n{how}\n\n{table(figures)}"
    return _procs.write_results(directory, "sync-webhook", figures, markdown).with_suffix(".json")


def run() -> int:
    configure_logging("WARNING")
    wrk = find_wrk()
    if wrk is None:
        print("webhook benchmark NOT RUN: wrk is not installed (apt-get install -y wrk)", flush=True)
        return 1
    settings = Settings()
    figures = asyncio.run(measure(settings, wrk))
    print("\nsync webhook benchmark\n")
    print(table(figures))
    for aim, met in verdicts(figures).items():
        print(f"  {'met' if met else 'MISSED'}: {aim}")
    if settings.results is not None:
        print(f"\nwritten to {_write(figures, settings.results)}")
    return (
        0
        if figures["ours"]["non_2xx"] == 0
        and figures["burst"]["answered_200"] == figures["burst"]["notifications"]
        else 1
    )


def bare_app() -> web.Application:
    """The floor: an aiohttp app that answers 200 on the webhook's path and does nothing else."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_route("*", PATH, ok)
    return app


if __name__ == "__main__":
    if sys.argv[1:] == ["bare"]:
        web.run_app(
            bare_app(), host="127.0.0.1", port=int(os.environ["BARE_PORT"]), access_log=None, print=None
        )
    else:
        raise SystemExit(run())

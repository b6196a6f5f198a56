"""Benchmark: 10,000 grants all due at once (as after an outage) refreshed by a running auth app
against the Google emulator (token endpoint answering after 30-50 ms), while sync keeps asking for
tokens over the token RPC; then bare token-endpoint calls at the same concurrency and latency for
comparison. Prints refreshes/s, the emulator's peak of concurrent token calls, tokens handed out
expired (must be 0: expires_at in the past at hand-out, or unknown to the emulator afterwards) and
the ratio to the bare rate. BENCH_GRANTS, BENCH_CONCURRENCY, BENCH_TOKEN_LATENCY_MS and
BENCH_TOKEN_JITTER_MS override the defaults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from devtools.google_emulator import GoogleEmulator
from services.auth.adapters import crypto
from services.auth.app import create_app
from services.auth.config import AuthConfig
from services.auth.domain.refresh_rules import RefreshSettings
from shared import messages as m
from shared.amqp import Broker
from shared.clock import SystemClock
from shared.config import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL, BrokerUsers, CommonConfig, GoogleConfig
from shared.logs import configure_logging
from shared.rpc import RpcClient
from tests.support.helpers import eventually, serve

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
GRANTS = int(os.environ.get("BENCH_GRANTS", "10000"))
# Calls to Google in flight at once, in both runs. 16 keeps the bare run bound by the token endpoint's
# latency rather than by this machine's CPU (the emulator, auth, PostgreSQL and RabbitMQ share it).
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
# Google's token endpoint is a network round trip away: every token call (auth run and bare run
# alike) is answered after LATENCY_MS plus up to JITTER_MS (uniform), without blocking other calls.
LATENCY_MS = float(os.environ.get("BENCH_TOKEN_LATENCY_MS", "30"))
JITTER_MS = float(os.environ.get("BENCH_TOKEN_JITTER_MS", "20"))
REQUESTERS = 4  # sync asking for tokens over the token RPC while the storm runs
# The bench plays auth and sync on one login (AMQP_URL), so publisher verification is off here.
ONE_LOGIN = BrokerUsers(verify=False)
SCOPES = ["openid", "https://www.googleapis.com/auth/calendar.events"]
KEYS = (("bench", os.urandom(32)),)


def _token(i: int, seed: str) -> str:
    return f"1//bench-{seed}-{i:06d}"


def _serve_emulator(port_queue: Any, seed: str, grants: int) -> None:
    """Child process: the emulator with GRANTS seeded grants, plus a stats and token-check route."""
    from aiohttp import web

    async def serve_forever() -> None:
        emu = GoogleEmulator()
        emu.set_latency("/token", LATENCY_MS / 1000, jitter=JITTER_MS / 1000)
        for i in range(grants):
            email = f"bench{i}@example.com"
            emu.add_user(email)
            emu.add_grant(email, SCOPES, refresh_token=_token(i, seed))

        async def stats(request: web.Request) -> web.Response:
            if request.query.get("reset"):
                emu.reset_stats()
            return web.json_response(
                {
                    "refresh_calls": emu.token_calls_by_grant["refresh_token"],
                    "peak": emu.token_inflight_peak,
                    "subs": [emu.user(f"bench{i}@example.com").sub for i in range(grants)]
                    if request.query.get("subs")
                    else [],
                }
            )

        async def check(request: web.Request) -> web.Response:
            tokens = await request.json()
            return web.json_response({"dead": sum(emu.access_token_for(t) is None for t in tokens)})

        emu.app.router.add_get("/_emulator_bench/stats", stats)
        emu.app.router.add_post("/_emulator_bench/check", check)
        base = await emu.start()
        port_queue.put(base)
        await asyncio.Event().wait()

    asyncio.run(serve_forever())


CLIENT_ID = "calsync-test-client.apps.googleusercontent.com"
CLIENT_SECRET = "calsync-test-secret"


async def main() -> dict[str, Any]:
    admin_dsn = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    db_name = f"calsync_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    dsn = admin_dsn.rpartition("/")[0] + "/" + db_name
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    seed = uuid.uuid4().hex[:8]
    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    child = ctx.Process(target=_serve_emulator, args=(port_queue, seed, GRANTS), daemon=True)
    child.start()
    try:
        base = await asyncio.get_running_loop().run_in_executor(None, port_queue.get, True, 120)
        return await _run(base, seed, dsn, prefix)
    finally:
        child.terminate()
        child.join(10)
        broker = Broker(
            os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
            prefix=prefix,
            retry_delays_ms=CommonConfig(service="auth").retry_delays_ms,  # the delays the bench app declared
        )
        await broker.connect()
        await broker.delete_topology()
        await broker.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()


def _config(base: str, dsn: str, prefix: str) -> AuthConfig:
    common = CommonConfig(
        service="auth",
        database_url=dsn,
        amqp_url=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
        amqp_prefix=prefix,
        service_token="bench-" + uuid.uuid4().hex,
        log_level="WARNING",
        broker_users=ONE_LOGIN,
    )
    google = GoogleConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_url=base + "/token",
        revoke_url=base + "/revoke",
        risc_config_url=base + "/.well-known/risc-configuration",
    )
    refresh = RefreshSettings(poll_interval=0.05, concurrency=CONCURRENCY, batch_size=400)
    return AuthConfig(common=common, google=google, token_keys=KEYS, link_secret=b"b" * 40, refresh=refresh)


async def _seed(dsn: str, seed: str, subs: list[str]) -> list[str]:
    """The emulator's grants stored in auth's table: tokens already expired, not yet due."""
    cipher = crypto.TokenCipher(KEYS)
    now = datetime.now(UTC)
    records, users = [], []
    for i in range(GRANTS):
        token = _token(i, seed)
        grant_id, user_id = uuid.uuid4().hex, f"user-{i}"
        records.append(
            (
                grant_id,
                user_id,
                subs[i],
                f"bench{i}@example.com",
                "connected",
                now,
                SCOPES,
                cipher.seal_field(grant_id, "refresh_token", token),
                cipher.seal_field(grant_id, "access_token", "ya29.expired-" + uuid.uuid4().hex),
                now - timedelta(minutes=5),
                crypto.token_hash(token),
                crypto.token_prefix_hash(token),
                now + timedelta(days=1),
                now - timedelta(hours=2),
                now - timedelta(hours=2),
                now,
                now,
            )
        )
        users.append(user_id)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "grants",
            schema_name="auth",
            records=records,
            columns=[
                "grant_id",
                "user_id",
                "google_sub",
                "google_email",
                "state",
                "state_since",
                "scopes",
                "refresh_token_enc",
                "access_token_enc",
                "access_expires_at",
                "token_hash",
                "token_prefix_hash",
                "next_refresh_at",
                "last_refreshed_at",
                "last_used_at",
                "created_at",
                "updated_at",
            ],
        )
    finally:
        await conn.close()
    return users


async def _stats(http: aiohttp.ClientSession, base: str, **query: str) -> dict[str, Any]:
    async with http.get(base + "/_emulator_bench/stats", params=query) as resp:
        data: dict[str, Any] = await resp.json()
        return data


async def _refresh_storm(
    broker: Broker, http: aiohttp.ClientSession, base: str, dsn: str, users: list[str]
) -> dict[str, float]:
    await _stats(http, base, reset="1")
    conn = await asyncpg.connect(dsn)
    client = RpcClient(broker)
    await client.start()
    handed: list[str] = []
    expired_at_handout = 0
    other_answers = 0
    stop = asyncio.Event()

    async def requester(seed: int) -> None:  # sync asking for tokens over the token RPC throughout
        nonlocal expired_at_handout, other_answers
        rng = random.Random(seed)
        while not stop.is_set():
            reply = await client.call(m.TokenRequested(user_id=rng.choice(users)), timeout=30)
            assert isinstance(reply, m.TokenReply)
            if reply.status != "token" or not reply.access_token:
                other_answers += 1
                continue
            handed.append(reply.access_token)
            if reply.expires_at is None or reply.expires_at <= datetime.now(UTC):
                expired_at_handout += 1
            with contextlib.suppress(TimeoutError):  # pace the requests
                await asyncio.wait_for(stop.wait(), 0.01)

    try:
        started = time.perf_counter()
        await conn.execute("UPDATE auth.grants SET next_refresh_at = now() - interval '1 second'")
        tasks = [asyncio.create_task(requester(seed)) for seed in range(REQUESTERS)]

        async def all_fresh() -> None:
            left = await conn.fetchval(
                "SELECT count(*) FROM auth.grants WHERE access_expires_at < now() + interval '30 minutes'"
            )
            assert left == 0

        await eventually(all_fresh, timeout=600, interval=0.1)
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        await conn.close()
    stats = await _stats(http, base)
    async with http.post(base + "/_emulator_bench/check", json=handed) as resp:
        dead = (await resp.json())["dead"]
    return {
        "refreshes": float(stats["refresh_calls"]),
        "seconds": elapsed,
        "rate": GRANTS / elapsed,
        "peak": float(stats["peak"]),
        "expired": float(expired_at_handout + dead),
        "answered": float(len(handed)),
        "other": float(other_answers),
    }


async def _bare(http: aiohttp.ClientSession, base: str, seed: str) -> dict[str, float]:
    """Bare token-endpoint refresh calls at the same concurrency, nothing else."""
    await _stats(http, base, reset="1")
    todo = iter(range(GRANTS))
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    async def worker() -> int:
        n = 0
        for i in todo:
            async with http.post(base + "/token", data={**form, "refresh_token": _token(i, seed)}) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            n += 1
        return n

    started = time.perf_counter()
    counts = await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    stats = await _stats(http, base)
    return {
        "calls": float(sum(counts)),
        "seconds": elapsed,
        "rate": sum(counts) / elapsed,
        "peak": float(stats["peak"]),
    }


async def _run(base: str, seed: str, dsn: str, prefix: str) -> dict[str, Any]:
    app = create_app(_config(base, dsn, prefix), overrides={"clock": SystemClock()})
    broker = Broker(os.environ.get("AMQP_URL", DEFAULT_AMQP_URL), prefix=prefix, users=ONE_LOGIN)
    await broker.connect()
    try:
        async with aiohttp.ClientSession() as http:
            subs = (await _stats(http, base, subs="1"))["subs"]
            async with serve(app):
                users = await _seed(dsn, seed, subs)
                storm = await _refresh_storm(broker, http, base, dsn, users)
            bare = await _bare(http, base, seed)
    finally:
        await broker.close()
    ratio = storm["rate"] / bare["rate"]
    _print_table(storm, bare, ratio)
    return {
        "benchmark": "auth refresh",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "grants": GRANTS,
            "concurrency": CONCURRENCY,
            "latency_ms": LATENCY_MS,
            "jitter_ms": JITTER_MS,
        },
        "ours": storm,
        "bare": bare,
        "ratio": round(ratio, 2),
        "expired": storm["expired"],
        "machine": {"cpus": os.cpu_count(), "load_after": [round(v, 2) for v in os.getloadavg()]},
    }


def _print_table(storm: dict[str, float], bare: dict[str, float], ratio: float) -> None:
    rows = [
        ("grants due at once", f"{GRANTS}"),
        ("token-endpoint latency", f"{LATENCY_MS:.0f}-{LATENCY_MS + JITTER_MS:.0f} ms (both runs)"),
        ("concurrency (both runs)", f"{CONCURRENCY}"),
        ("token-endpoint refresh calls", f"{storm['refreshes']:.0f}"),
        ("time to refresh all", f"{storm['seconds']:.1f} s"),
        ("refreshes per second (auth)", f"{storm['rate']:.0f}"),
        (
            "peak concurrent token calls",
            f"{storm['peak']:.0f}  (scheduler slots {CONCURRENCY} + token requests refreshing on demand)",
        ),
        ("token RPC answers meanwhile", f"{storm['answered']:.0f} tokens, {storm['other']:.0f} other"),
        ("tokens handed out expired", f"{storm['expired']:.0f}  (must be 0)"),
        (
            "bare token calls per second",
            f"{bare['rate']:.0f}  ({bare['calls']:.0f} calls, peak {bare['peak']:.0f})",
        ),
        ("ratio auth / bare", f"{ratio:.2f}  (aim >= 0.70)"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\nauth refresh benchmark")
    print("-" * (width + 30))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("-" * (width + 30))


def run() -> int:
    configure_logging("WARNING")  # the app's per-message info logs would dominate the CPU profile
    figures = asyncio.run(main())
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-auth-refresh.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nwritten to {path}")
    return 0 if figures["expired"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(run())

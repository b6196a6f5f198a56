"""A notifier killed between the SMTP server's 250 and recording it: the alert is never sent twice.

A real notifier process (``python -m services.notifier``) delivers the alert to the mail catcher.
While the catcher answers 250, the test holds the job's row, so the process is stuck recording the
outcome; it is then killed with SIGKILL. Another notifier finds the job stale in ``sending``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from devtools.mailcatcher import MailCatcher, Received
from services.notifier.config import SmtpConfig
from shared.amqp import Broker
from shared.clock import ManualClock
from shared.config import CommonConfig
from shared.web import REGISTRY
from tests.service.notifier.support import (
    LINK_SECRET,
    MAIL_FROM,
    AuthLinksStandIn,
    disconnect_known_user,
    free_port,
    nothing_due,
)
from tests.support.helpers import eventually


@asynccontextmanager
async def notifier_process(
    common: CommonConfig, *, smtp_port: int, auth_url: str, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The notifier as its own OS process (SystemClock) on the test's database, broker and catcher."""
    port, internal_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": common.database_url,
        "AMQP_URL": common.amqp_url,
        "AMQP_PREFIX": common.amqp_prefix,
        "AMQP_RETRY_DELAYS_MS": ",".join(str(d) for d in common.retry_delays_ms),
        "HTTP_PORT": str(port),
        "INTERNAL_HOST": "127.0.0.1",
        "INTERNAL_PORT": str(internal_port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SERVICE_TOKEN": common.service_token,
        "NOTIFIER_LINK_SECRET": LINK_SECRET,
        "AUTH_API_URL": auth_url,
        "SMTP_PORT": str(smtp_port),
        "MAIL_FROM": MAIL_FROM,
        "DELIVERY_POLL_INTERVAL": "0.05",
        "OUTBOX_POLL_INTERVAL": "0.05",
        "LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.notifier", env=env, stdout=out, stderr=out
        )
        try:
            await eventually(lambda: _ready(f"http://127.0.0.1:{internal_port}"), timeout=30)
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def _ready(url: str) -> None:
    """The process is ready (internal /readyz) only once its consumers and delivery worker run."""
    try:
        async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as resp:
            assert resp.status == 200
    except aiohttp.ClientConnectionError:
        raise AssertionError("not listening yet") from None


@asynccontextmanager
async def row_held_at_250(mail: MailCatcher, database_url: str) -> AsyncIterator[int]:
    """While the catcher answers 250, lock the job being sent, so its outcome cannot be recorded;
    yields the holding session's backend pid."""
    conn = await asyncpg.connect(database_url)
    tx = conn.transaction()

    async def hold(_received: Received) -> None:
        await tx.start()
        held = await conn.fetch("SELECT id FROM notifier.jobs WHERE state = 'sending' FOR UPDATE")
        assert len(held) == 1

    mail.before_reply = hold
    try:
        yield conn.get_server_pid()
    finally:
        mail.before_reply = None
        await tx.rollback()
        await conn.close()


async def kill(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL


@pytest.fixture
def spawn_notifier(
    common_config: Callable[..., CommonConfig],
    mail: MailCatcher,
    auth_links: AuthLinksStandIn,
    tmp_path: Path,
) -> Callable[[], Any]:
    """``async with spawn_notifier() as proc``: the notifier as its own process, to be killed."""
    common = common_config("notifier")
    return lambda: notifier_process(
        common, smtp_port=mail.port, auth_url=auth_links.url, log=tmp_path / "n.log"
    )


@pytest.fixture
def survivor(start_notifier: Callable[..., Any], mail: MailCatcher, clock: ManualClock) -> Callable[[], Any]:
    """``async with survivor() as n``: another notifier (in-process), on the wall clock, that settles
    an attempt after 1.5 s."""

    def start() -> Any:
        clock.set(datetime.now(UTC))
        smtp = replace(SmtpConfig(port=mail.port), timeout=1.0)
        return start_notifier(smtp=smtp, delivery_stale_margin=0.5)

    return start


async def blocked_by(db: asyncpg.Pool, holder_pid: int) -> None:
    """Some session waits for a lock that ``holder_pid`` holds (the notifier recording its outcome)."""
    waiting = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder_pid
    )
    assert waiting >= 1


async def test_a_notifier_killed_after_the_smtp_reply_never_sends_the_alert_twice(
    spawn_notifier: Callable[[], Any],
    survivor: Callable[[], Any],
    broker: Broker,
    clean_db: asyncpg.Pool,
    mail: MailCatcher,
    clock: ManualClock,
    database_url: str,
) -> None:
    """The user gets one alert even when the notifier that sent it died before noting it down; the
    job is recorded as maybe sent and the reminder cadence goes on."""
    async with spawn_notifier() as proc, row_held_at_250(mail, database_url) as holder_pid:
        await disconnect_known_user(broker, clean_db)
        await mail.wait_for(timeout=20)
        await eventually(lambda: blocked_by(clean_db, holder_pid))  # it got the 250 and is recording it
        await kill(proc)
    job = await clean_db.fetchrow("SELECT id, state, smtp_started_at, sending_by FROM notifier.jobs")
    assert job["state"] == "sending" and job["smtp_started_at"] is not None and job["sending_by"]

    async with survivor() as other:
        await eventually(lambda: _state(clean_db, job["id"], "maybe_sent"), timeout=15)
        await nothing_due(clean_db, clock)
        labels = {"kind": "alert", "outcome": "maybe_sent"}
        assert other.app[REGISTRY].get_sample_value("calsync_notifier_emails_total", labels) == 1.0
    log = await clean_db.fetch("SELECT outcome, stage, message_id FROM notifier.delivery_log")
    assert [(r["outcome"], r["stage"]) for r in log] == [("maybe_sent", "smtp")]
    assert log[0]["message_id"] == mail.messages[0]["Message-ID"]
    kinds = await clean_db.fetch("SELECT kind, state FROM notifier.jobs ORDER BY sequence")
    assert [(r["kind"], r["state"]) for r in kinds] == [("alert", "maybe_sent"), ("reminder", "pending")]
    assert len(mail.messages) == 1


async def _state(db: asyncpg.Pool, job_id: Any, state: str) -> None:
    assert await db.fetchval("SELECT state FROM notifier.jobs WHERE id = $1", job_id) == state


async def test_an_attempt_interrupted_before_smtp_is_simply_tried_again(
    spawn_notifier: Callable[[], Any],
    survivor: Callable[[], Any],
    broker: Broker,
    clean_db: asyncpg.Pool,
    mail: MailCatcher,
    auth_links: AuthLinksStandIn,
    clock: ManualClock,
) -> None:
    """An alert whose notifier died while preparing it (before any SMTP contact) still arrives, once."""
    auth_links.gate = asyncio.Event()
    try:
        async with spawn_notifier() as proc:
            await disconnect_known_user(broker, clean_db)
            await eventually(lambda: _link_requested(auth_links), timeout=20)
            await kill(proc)
    finally:
        auth_links.gate.set()
        auth_links.gate = None
    job = await clean_db.fetchrow("SELECT id, state, smtp_started_at FROM notifier.jobs")
    assert job["state"] == "sending" and job["smtp_started_at"] is None

    async with survivor():
        await mail.wait_for(timeout=15)
        await eventually(lambda: _state(clean_db, job["id"], "sent"))
        await nothing_due(clean_db, clock)
    log = await clean_db.fetch("SELECT outcome, stage FROM notifier.delivery_log ORDER BY id")
    assert [(r["outcome"], r["stage"]) for r in log] == [("retry", "interrupted"), ("sent", "smtp")]
    assert len(mail.messages) == 1


async def _link_requested(auth_links: AuthLinksStandIn) -> None:
    assert auth_links.waiting == 1

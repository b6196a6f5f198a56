"""A notifier killed between the SMTP server's 250 and recording it: the alert is never sent twice.

A real notifier process (``python -m services.notifier``) delivers the alert to the mail catcher.
While the catcher answers 250, the test holds the job's row, so the process is stuck recording the
outcome; it is then killed with SIGKILL. Another notifier finds the job stale in ``sending``.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    nothing_due,
)
from tests.support.helpers import eventually
from tests.support.service_process import service_process


@asynccontextmanager
async def notifier_process(
    common: CommonConfig, *, smtp_port: int, auth_url: str, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The notifier as its own OS process (SystemClock) on the test's database, broker and catcher."""
    settings = {
        "NOTIFIER_LINK_SECRET": LINK_SECRET,
        "AUTH_API_URL": auth_url,
        "SMTP_PORT": str(smtp_port),
        "MAIL_FROM": MAIL_FROM,
        "DELIVERY_POLL_INTERVAL": "0.05",
    }
    async with service_process("notifier", common, settings, log=log) as proc:
        yield proc


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


@dataclass(frozen=True)
class CrashWindow:
    """Both halves of a crash test: ``spawn()`` starts the notifier process to kill, ``survivor()``
    the notifier that takes over; ``disconnect()`` sets off the alert, ``settled()`` waits for the
    job's final state with nothing else due."""

    spawn: Callable[[], Any]
    survivor: Callable[[], Any]
    broker: Broker
    db: asyncpg.Pool
    clock: ManualClock

    async def disconnect(self) -> None:
        await disconnect_known_user(self.broker, self.db)

    async def settled(self, job_id: Any, state: str, timeout: float = 20.0) -> None:
        await eventually(lambda: _state(self.db, job_id, state), timeout=timeout)
        await nothing_due(self.db, self.clock)


@pytest.fixture
def crash(
    spawn_notifier: Callable[[], Any],
    survivor: Callable[[], Any],
    broker: Broker,
    clean_db: asyncpg.Pool,
    clock: ManualClock,
) -> CrashWindow:
    return CrashWindow(spawn_notifier, survivor, broker, clean_db, clock)


async def test_a_notifier_killed_after_the_smtp_reply_never_sends_the_alert_twice(
    crash: CrashWindow, clean_db: asyncpg.Pool, mail: MailCatcher, database_url: str
) -> None:
    """The user gets one alert even when the notifier that sent it died before noting it down; the
    job is recorded as maybe sent and the reminder cadence goes on."""
    async with crash.spawn() as proc, row_held_at_250(mail, database_url) as holder_pid:
        await crash.disconnect()
        await mail.wait_for(timeout=20)
        await eventually(lambda: blocked_by(clean_db, holder_pid))  # it got the 250 and is recording it
        await kill(proc)
    job = await clean_db.fetchrow("SELECT id, state, smtp_started_at, sending_by FROM notifier.jobs")
    assert job["state"] == "sending" and job["smtp_started_at"] is not None and job["sending_by"]

    async with crash.survivor() as other:
        await crash.settled(job["id"], "maybe_sent", timeout=15)
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
    crash: CrashWindow, clean_db: asyncpg.Pool, mail: MailCatcher, auth_links: AuthLinksStandIn
) -> None:
    """An alert whose notifier died while preparing it (before any SMTP contact) still arrives, once."""
    auth_links.gate = asyncio.Event()
    try:
        async with crash.spawn() as proc:
            await crash.disconnect()
            await eventually(lambda: _link_requested(auth_links), timeout=20)
            await kill(proc)
    finally:
        auth_links.gate.set()
        auth_links.gate = None
    job = await clean_db.fetchrow("SELECT id, state, smtp_started_at FROM notifier.jobs")
    assert job["state"] == "sending" and job["smtp_started_at"] is None

    async with crash.survivor():
        await mail.wait_for(timeout=15)
        await crash.settled(job["id"], "sent")
    log = await clean_db.fetch("SELECT outcome, stage FROM notifier.delivery_log ORDER BY id")
    assert [(r["outcome"], r["stage"]) for r in log] == [("retry", "interrupted"), ("sent", "smtp")]
    assert len(mail.messages) == 1


async def _link_requested(auth_links: AuthLinksStandIn) -> None:
    assert auth_links.waiting == 1

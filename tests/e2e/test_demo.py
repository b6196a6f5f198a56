"""``make demo`` in the test suite, so the story cannot rot: the programs ``make run`` starts
(devtools/localrun.py, with deploy/env.local) run as their own processes on free ports, the test
database and a test AMQP prefix, and the demo plays its whole story against them."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from devtools.demo.clients import Targets
from devtools.demo.story import STEPS, play
from devtools.demo.timeline import DemoFailed, Timeline
from devtools.envfile import load_env_file
from devtools.localrun import Ports, Proc, is_ready, launch, plan, stop, wiring
from shared.config import BrokerUsers
from tests.support.bus import user_url
from tests.support.helpers import eventually
from tests.support.service_process import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "sync", "notifier")


def free_ports() -> Ports:
    """Nine distinct free ports: the six public ones and the services' internal listeners."""
    ports: list[int] = []
    while len(ports) < 6 + len(SERVICES):
        if (port := free_port()) not in ports:
            ports.append(port)
    auth, sync, notifier, google, smtp, mail, *internal = ports
    return Ports(
        auth, sync, notifier, google, smtp, mail, internal=dict(zip(SERVICES, internal, strict=True))
    )


def settings(
    ports: Ports, database_url: str, amqp_url: str, prefix: str, users: BrokerUsers
) -> dict[str, str]:
    """``make run``'s settings, pointed at these ports, the test database and the test prefix."""
    own = {f"AMQP_URL_{p.upper()}": user_url(amqp_url, users.of(p)) for p in (*SERVICES, "platform")}
    return {
        **os.environ,
        **load_env_file(ROOT / "deploy" / "env.local"),
        **wiring(ports),
        **own,
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "AMQP_PREFIX": prefix,
        "AMQP_RETRY_DELAYS_MS": "50,200",
        "OUTBOX_POLL_INTERVAL": "0.05",
        "LOG_FORMAT": "json",
    }


@contextmanager
def started(procs: list[Proc], logs: Path) -> Iterator[None]:
    """Each program as its own process, as ``make run`` starts it, output in ``logs/<name>.log``;
    stopped as ``make run`` stops them on the way out."""
    try:
        for proc in procs:
            with (logs / f"{proc.name}.log").open("wb") as out:
                launch(proc, out)
        yield
    finally:
        stop(procs, 10)


async def all_ready(procs: list[Proc]) -> None:
    for proc in procs:
        assert proc.popen is not None and proc.popen.poll() is None, f"{proc.name} exited"
        assert await asyncio.to_thread(is_ready, proc), f"{proc.name} is not ready at {proc.ready_url}"


@pytest_asyncio.fixture
async def local_run(
    tmp_path: Path,
    database_url: str,
    amqp_url: str,
    amqp_prefix: str,
    broker_users: BrokerUsers,
    clean_db: asyncpg.Pool,
) -> AsyncIterator[Targets]:
    """What ``make run`` starts, ready; the demo's targets."""
    ports = free_ports()
    env = settings(ports, database_url, amqp_url, amqp_prefix, broker_users)
    env["RISC_SERVICE_ACCOUNT_KEY_FILE"] = str(tmp_path / "risc-service-account.json")  # not the checkout's
    procs = plan(env, ports)
    with started(procs, tmp_path):
        try:
            await eventually(lambda: all_ready(procs), timeout=45, interval=0.2)
        except AssertionError as exc:
            pytest.fail(f"{exc}\n{tails(tmp_path)}")
        yield Targets.from_settings(env, ports)


def tails(logs: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs.glob("*.log")
    )


@pytest.mark.timeout(150)
async def test_the_demo_plays_the_whole_story_with_every_step_checked(
    local_run: Targets, tmp_path: Path
) -> None:
    """Against the programs of ``make run``, every step of the story is checked and passes."""
    out = io.StringIO()
    timeline = Timeline(out=out)
    try:
        await play(local_run, timeline, step_timeout=30)
    except DemoFailed as exc:
        pytest.fail(f"{exc}\n{out.getvalue()}\n{tails(tmp_path)}")
    print(out.getvalue())  # the timeline, shown with -rP
    assert timeline.passed == [title for title, _ in STEPS], out.getvalue()
    assert out.getvalue().count("✓") == len(STEPS) and "✗" not in out.getvalue()

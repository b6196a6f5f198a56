"""The system under fault injection, all on this machine and all of its own: the local three-node
RabbitMQ cluster (``scripts/cluster.sh``, brought up if it is not running and down again if it
was brought up here), a throwaway PostgreSQL (``postgres.py``), the Google emulator as a process,
a mail catcher in this process, and auth, sync and notifier as processes (``python -m
services.<name>``) that can be killed with SIGKILL and started again on the same ports."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from devtools.bench import _procs
from devtools.bench._procs import Child
from devtools.chaos.postgres import ThrowawayPostgres
from devtools.envfile import load_env_file
from devtools.mailcatcher import MailCatcher
from shared.amqp import Broker
from shared.config import BrokerUsers, amqp_addresses
from tests.support.bus import user_url

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "scripts" / "cluster.sh"
SERVICES = ("auth", "sync", "notifier")
RETRY_DELAYS_MS = (1_000, 5_000, 20_000)  # shorter than the services' default, so a run settles
GOOGLE_TIMEOUT_SECONDS = 3.0
SERVICE_TOKEN = "chaos-" + uuid.uuid4().hex


class StackError(RuntimeError):
    """A piece of the stack did not start or stop; the message says which and why."""


async def cluster(*args: str) -> str:
    """``scripts/cluster.sh args``; its output, or StackError with it."""
    process = await asyncio.create_subprocess_exec(
        str(CLUSTER), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise StackError(f"scripts/cluster.sh {' '.join(args)} failed: {text[-1500:]}")
    return text


def cluster_url_as(admin_url: str, user: str) -> str:
    """The cluster's comma-separated AMQP_URL with ``user`` logging in at every node."""
    return ",".join(user_url(address, user) for address in amqp_addresses(admin_url))


@dataclass
class Service:
    """One service's settings (fixed ports, so it comes back where the others expect it) and its
    current process."""

    name: str
    env: dict[str, str]
    logs: Path
    child: Child | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['HTTP_PORT']}"

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.env['INTERNAL_PORT']}/readyz"

    def start(self) -> None:
        self.starts += 1
        self.child = _procs.start(
            f"{self.name}-{self.starts}", f"services.{self.name}", [], self.env, self.logs
        )

    async def ready(self, timeout: float = 120) -> None:
        assert self.child is not None
        await _procs.wait_ready(self.child, self.ready_url, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, no shutdown of any kind."""
        assert self.child is not None
        self.child.process.kill()
        self.child.process.wait(10)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


@dataclass
class Stack:
    """What a chaos run drives; ``admin`` (guest) inspects the broker, ``platform`` publishes as the
    platform's broker user."""

    admin_url: str
    prefix: str
    postgres: ThrowawayPostgres
    mail: MailCatcher
    logs: Path
    emulator: Child | None = None
    emulator_url: str = ""
    services: dict[str, Service] = field(default_factory=dict)
    admin: Broker | None = None
    platform: Broker | None = None
    cluster_started_here: bool = False
    keep_logs: bool = False  # set when a check failed: the logs say why
    setup_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def dsn(self) -> str:
        return self.postgres.dsn

    def broker(self, url: str) -> Broker:
        return Broker(url, prefix=self.prefix, retry_delays_ms=RETRY_DELAYS_MS, users=BrokerUsers())

    def tails(self) -> str:
        """The end of every process log, for a failure's cause."""
        logs = sorted(self.logs.glob("*.log"))
        return "\n".join(f"--- {log.name} (end)\n{log.read_text(errors='replace')[-2500:]}" for log in logs)


async def _cluster_running() -> bool:
    status = await cluster("status")
    return status.count(" up, ") == 3


@contextlib.asynccontextmanager
async def running_stack(workers: int) -> AsyncIterator[Stack]:
    """Everything up and ready (services with ``workers`` writer workers); torn down on the way out."""
    began = time.perf_counter()
    logs = Path(tempfile.mkdtemp(prefix="calsync-chaos-"))
    started_cluster = not await _cluster_running()
    admin_url = (await cluster("url")).strip()
    stack = Stack(admin_url, f"chaos{uuid.uuid4().hex[:6]}.", ThrowawayPostgres(), MailCatcher(), logs)
    stack.cluster_started_here = started_cluster
    failed = True
    try:
        # The cluster boots (tens of seconds) while PostgreSQL, the mail catcher and Google start.
        booting = asyncio.create_task(cluster("up") if started_cluster else asyncio.sleep(0))
        await stack.postgres.start()
        await stack.mail.start()
        await _start_emulator(stack)
        await booting
        stack.setup_seconds["cluster" + (" up" if started_cluster else " (running)")] = (
            time.perf_counter() - began
        )
        stack.admin = stack.broker(admin_url)
        await stack.admin.connect()
        _plan_services(stack, workers)
        for service in stack.services.values():
            service.start()
        for service in stack.services.values():
            await service.ready()
        stack.platform = stack.broker(cluster_url_as(admin_url, BrokerUsers().platform))
        await stack.platform.connect()
        stack.setup_seconds["ready"] = time.perf_counter() - began
        yield stack
        failed = False
    finally:
        await _tear_down(stack, keep_logs=failed or stack.keep_logs)
        if failed or stack.keep_logs:
            print(f"chaos: the processes' logs are kept in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)


async def _start_emulator(stack: Stack) -> None:
    port = _procs.free_port()
    stack.emulator = _procs.start("emulator", "devtools.google_emulator", [
        "--port", str(port), "--latency-ms", "5:20", "--allow-http-push", "127.0.0.1",
    ], {}, stack.logs)  # fmt: skip
    started = await _procs.wait_for_line(stack.emulator, "emulator_started")
    stack.emulator_url = str(started["base_url"]).rstrip("/")


def _plan_services(stack: Stack, workers: int) -> None:
    base = load_env_file(ROOT / "deploy" / "env.local")
    google = stack.emulator_url
    ports = {name: (_procs.free_port(), _procs.free_port()) for name in SERVICES}
    common = {
        **base,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": stack.dsn,
        "AMQP_PREFIX": stack.prefix,
        "AMQP_VERIFY_PUBLISHERS": "true",
        "AMQP_RETRY_DELAYS_MS": ",".join(str(d) for d in RETRY_DELAYS_MS),
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "GOOGLE_AUTH_URL": f"{google}/o/oauth2/v2/auth",
        "GOOGLE_TOKEN_URL": f"{google}/token",
        "GOOGLE_REVOKE_URL": f"{google}/revoke",
        "GOOGLE_USERINFO_URL": f"{google}/v1/userinfo",
        "GOOGLE_RISC_CONFIG_URL": f"{google}/.well-known/risc-configuration",
        "GOOGLE_CALENDAR_BASE_URL": f"{google}/calendar/v3/",
        "GOOGLE_HTTP_TIMEOUT_SECONDS": str(GOOGLE_TIMEOUT_SECONDS),
        "SYNC_API_URL": f"http://127.0.0.1:{ports['sync'][0]}",
        "AUTH_API_URL": f"http://127.0.0.1:{ports['auth'][0]}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(stack.mail.port),
    }
    extra = {
        "sync": {
            "SYNC_WORKERS": str(workers),
            "DB_POOL_SIZE": str(workers + 6),
            "SYNC_LEASE_SECONDS": "15",
            "SYNC_BACKOFF_CAP_SECONDS": "8",
            "SYNC_TOKEN_TIMEOUT_SECONDS": "3",
            "SYNC_WEBHOOK_URL": f"http://127.0.0.1:{ports['sync'][0]}/webhooks/google/calendar",
        },
    }
    for name in SERVICES:
        port, internal = ports[name]
        env = {
            **common,
            "AMQP_URL": cluster_url_as(stack.admin_url, BrokerUsers().of(name)),
            "HTTP_PORT": str(port),
            "INTERNAL_HOST": "127.0.0.1",
            "INTERNAL_PORT": str(internal),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            **extra.get(name, {}),
        }
        stack.services[name] = Service(name, env, stack.logs)


async def _tear_down(stack: Stack, *, keep_logs: bool) -> None:
    for service in stack.services.values():
        service.stop()
    if stack.emulator is not None:
        stack.emulator.stop()
    for broker in (stack.platform, stack.admin):
        if broker is not None:
            with contextlib.suppress(Exception):
                if broker is stack.admin and not stack.cluster_started_here:
                    await broker.delete_topology()
                await broker.close()
    await stack.mail.stop()
    await stack.postgres.stop()
    if keep_logs:  # the broker nodes' side of a failure, before their folder goes
        for log in (ROOT / ".cluster").glob("*/log"):
            shutil.copytree(log, stack.logs / f"rabbitmq-{log.parent.name}", dirs_exist_ok=True)
    if stack.cluster_started_here:
        await cluster("down")

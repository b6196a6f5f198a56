"""What `make run` starts and where (scripts/run-local.py runs it; ``make demo`` and the demo's
end-to-end test find the same programs by these ports): the Google emulator, the mail catcher and
auth, sync and notifier, each a ``Proc`` with its command line, environment and readiness check."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

LOCAL = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Ports:
    """The public ports of a local run (each service's internal port is its public port + 1000)."""

    auth: int = 8081
    sync: int = 8082
    notifier: int = 8083
    google: int = 8090
    smtp: int = 1025
    mail: int = 8025  # the mail catcher's web pages
    internal: dict[str, int] = field(default_factory=dict)  # service -> internal port, if not +1000

    def url(self, name: str) -> str:
        return f"http://{LOCAL}:{getattr(self, name)}"

    def internal_of(self, name: str) -> int:
        return self.internal.get(name, int(getattr(self, name)) + 1000)


def wiring(ports: Ports) -> dict[str, str]:
    """The settings of deploy/env.local that name a port, for ``ports`` (the same values as the
    file's for the default ports): where each program finds the others."""
    google = ports.url("google")
    return {
        "GOOGLE_AUTH_URL": f"{google}/o/oauth2/v2/auth",
        "GOOGLE_TOKEN_URL": f"{google}/token",
        "GOOGLE_REVOKE_URL": f"{google}/revoke",
        "GOOGLE_USERINFO_URL": f"{google}/v1/userinfo",
        "GOOGLE_RISC_CONFIG_URL": f"{google}/.well-known/risc-configuration",
        "GOOGLE_CALENDAR_BASE_URL": f"{google}/calendar/v3/",
        "RISC_API_URL": google,
        "SYNC_API_URL": ports.url("sync"),
        "SYNC_WEBHOOK_URL": f"{ports.url('sync')}/webhooks/google/calendar",
        "AUTH_API_URL": ports.url("auth"),
        "SMTP_HOST": LOCAL,
        "SMTP_PORT": str(ports.smtp),
    }


@dataclass
class Proc:
    """One child process and how to tell that it is ready."""

    name: str
    argv: list[str]
    port: int
    ready_path: str | None  # HTTP path that must answer 200; None: an open TCP port is enough
    internal_port: int | None = None  # where ready_path is served (the services' internal listener)
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCAL}:{self.port}"

    @property
    def ready_url(self) -> str:
        return f"http://{LOCAL}:{self.internal_port or self.port}{self.ready_path or ''}"

    @property
    def ports(self) -> list[int]:
        return [self.port] + ([self.internal_port] if self.internal_port else [])


def _programs(ports: Ports, risc_key_file: str | None) -> list[Proc]:
    py = sys.executable
    emulator = ["--port", str(ports.google), "--allow-http-push", LOCAL]
    emulator += ["--risc-receiver", f"{ports.url('auth')}/risc"]
    if risc_key_file:  # for `calsync risc` (a relative path: in the checkout)
        emulator += ["--service-account-key", risc_key_file]
    mail = ["--smtp-port", str(ports.smtp), "--http-port", str(ports.mail)]
    return [
        Proc("google", [py, "-m", "devtools.google_emulator", *emulator], ports.google, None),
        Proc("mail", [py, "-m", "devtools.mailcatcher", *mail], ports.mail, None),
        *(
            Proc(
                name, [py, "-m", f"services.{name}"], getattr(ports, name), "/readyz", ports.internal_of(name)
            )
            for name in ("auth", "sync", "notifier")
        ),
    ]


def plan(base_env: dict[str, str], ports: Ports | None = None, *, colors: bool = False) -> list[Proc]:
    """The programs of a local run on ``ports`` with ``base_env`` (RUN_ONLY=google,mail,auth picks
    some); each service logs in to RabbitMQ as its own user (AMQP_URL_<NAME>); the emulator writes a
    service-account key to ``RISC_SERVICE_ACCOUNT_KEY_FILE`` if that is set."""
    procs = _programs(ports or Ports(), base_env.get("RISC_SERVICE_ACCOUNT_KEY_FILE"))
    only = {name.strip() for name in base_env.get("RUN_ONLY", "").split(",") if name.strip()}
    procs = [p for p in procs if not only or p.name in only]
    color = {"FORCE_COLOR": "1"} if colors and not base_env.get("NO_COLOR") else {}
    for proc in procs:
        proc.env = {**base_env, **color, "HTTP_PORT": str(proc.port), "PUBLIC_BASE_URL": proc.url}
        own_url = base_env.get(f"AMQP_URL_{proc.name.upper()}")
        if own_url:  # the service's own broker user, so publisher verification accepts its messages
            proc.env["AMQP_URL"] = own_url
        if proc.internal_port:
            proc.env["INTERNAL_PORT"] = str(proc.internal_port)
    return procs


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOCAL, port)) == 0


def is_ready(proc: Proc) -> bool:
    """Serving on its public port and, for a service, its /readyz answers 200 (the internal listener
    starts before the public one, so both are checked)."""
    if not port_in_use(proc.port):
        return False
    if proc.ready_path is None:
        return True
    try:
        with urllib.request.urlopen(proc.ready_url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def launch(proc: Proc, stdout: int | IO[Any]) -> None:
    """Start ``proc`` from the repository root, its output (stderr too) to ``stdout``, in a session
    of its own: a Ctrl-C reaches only the launcher, which stops the children in order."""
    proc.popen = subprocess.Popen(
        proc.argv,
        cwd=ROOT,
        env={**proc.env, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(procs: list[Proc], timeout: float, *, on_kill: Callable[[str], None] = lambda _name: None) -> None:
    """SIGINT (graceful shutdown in aiohttp and asyncio.run), then SIGKILL for any still running
    after ``timeout`` seconds (``on_kill`` is told its name)."""
    running = [(p.name, p.popen) for p in procs if p.popen is not None and p.popen.poll() is None]
    for _name, popen in running:
        os.killpg(popen.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    for name, popen in running:
        try:
            popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            on_kill(name)
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()

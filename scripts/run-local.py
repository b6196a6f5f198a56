#!/usr/bin/env python3
"""`make run`: starts the Google emulator, the mail catcher and auth, sync and notifier locally
(what runs on which port: devtools/localrun.py).

Settings come from deploy/env.local (the environment wins). Each service connects to RabbitMQ as
its own broker user, from AMQP_URL_AUTH / AMQP_URL_SYNC / AMQP_URL_NOTIFIER (docs/security.md;
`make up` creates the users). Waits until every service's GET /readyz on its internal port
(public port + 1000) answers 200, then prints where to start: a link that opens a demo user's
settings page (minted with auth's link API and the local service token) and the emulator's page.
Streams logs with a name prefix (coloured on a terminal) and stops
all processes on Ctrl-C, or as soon as one of them exits. RUN_ONLY=google,mail,auth starts a
subset (names: google, mail, auth, sync, notifier); DEMO_USER_ID names the demo user (demo-user).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file (`python scripts/run-local.py`): make devtools importable

from devtools.envfile import load_env_file  # noqa: E402
from devtools.localrun import Proc, is_ready, launch, plan, port_in_use, stop  # noqa: E402

ENV_FILE = ROOT / "deploy" / "env.local"
READY_TIMEOUT = float(os.environ.get("RUN_READY_TIMEOUT", "60"))
STOP_TIMEOUT = 10.0
COLORS = ("36", "33", "35", "32", "34", "31")
PRINT_LOCK = threading.Lock()


def pump(proc: Proc, color: str) -> None:
    """Copies the child's output line by line with a coloured name prefix."""
    assert proc.popen is not None and proc.popen.stdout is not None
    tty = sys.stdout.isatty()
    prefix = f"\033[{color}m{proc.name:>8} |\033[0m " if tty else f"{proc.name:>8} | "
    for raw in iter(proc.popen.stdout.readline, b""):
        text = raw.decode(errors="replace").rstrip("\n")
        with PRINT_LOCK:
            print(prefix + text, flush=True)


def start(proc: Proc, color: str) -> None:
    launch(proc, subprocess.PIPE)
    threading.Thread(target=pump, args=(proc, color), daemon=True).start()


def stop_all(procs: list[Proc]) -> None:
    stop(
        procs,
        STOP_TIMEOUT,
        on_kill=lambda name: say(f"{name} did not stop within {STOP_TIMEOUT:.0f} s; killing it"),
    )


def say(message: str) -> None:
    with PRINT_LOCK:
        print(f"run-local: {message}", file=sys.stderr, flush=True)


def first_exited(procs: list[Proc]) -> Proc | None:
    for proc in procs:
        if proc.popen is not None and proc.popen.poll() is not None:
            return proc
    return None


def wait_ready(procs: list[Proc], stopping: threading.Event) -> str | None:
    """None when all are ready; otherwise why not."""
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(procs)
    while pending:
        if stopping.is_set():
            return "interrupted during start-up"
        dead = first_exited(procs)
        if dead is not None:
            assert dead.popen is not None
            return f"{dead.name} exited with code {dead.popen.returncode} during start-up"
        pending = [p for p in pending if not is_ready(p)]
        if pending and time.monotonic() > deadline:
            names = ", ".join(f"{p.name} ({p.ready_url})" for p in pending)
            return f"not ready after {READY_TIMEOUT:.0f} s: {names}"
        if pending:
            stopping.wait(0.3)
    return None


def demo_settings_link(auth: Proc, token: str, user_id: str) -> str | None:
    """A signed link to ``user_id``'s settings page from auth's link API (docs/auth.md); None if
    auth refuses (the reason is said)."""
    request = urllib.request.Request(  # noqa: S310 - a local http URL we built
        f"{auth.url}/api/v1/users/{user_id}/link",
        data=json.dumps({"locale": "en"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            url = json.loads(response.read())["url"]
            return str(url)
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        say(f"could not create the demo settings link: {exc}")
        return None


def print_start(procs: list[Proc], base_env: dict[str, str]) -> None:
    """Where to start, then every address."""
    by_name = {p.name: p for p in procs}
    lines = ["", "calsync is running (Ctrl-C stops everything).", ""]
    if "auth" in by_name:
        user_id = base_env.get("DEMO_USER_ID", "demo-user")
        link = demo_settings_link(by_name["auth"], base_env.get("SERVICE_TOKEN", ""), user_id)
        if link:
            lines += [
                f"  Start here: {link}",
                f"    (the settings page of {user_id}; the link is valid for a while)",
            ]
    if "google" in by_name:
        lines += [f"  Google emulator: {by_name['google'].url}/_emulator/", "    (accounts, events, grants)"]
    if len(by_name) == 5:  # everything runs: the story can be played against it
        lines += ["  Play the whole story: make demo", "    (in another terminal; checks every step)"]
    lines += ["", "  Also:"]
    notes = {"google": "google emulator", "mail": "mail catcher (SMTP on 127.0.0.1:1025)"}
    for proc in procs:
        extra = f"  (probes and metrics on :{proc.internal_port})" if proc.internal_port else ""
        lines.append(f"    {notes.get(proc.name, proc.name):<40} {proc.url}/{extra}")
    with PRINT_LOCK:
        print("\n".join(lines) + "\n", flush=True)


def main() -> int:
    base_env = {**load_env_file(ENV_FILE), **os.environ}
    procs = plan(base_env, colors=sys.stdout.isatty())
    busy = [(p, port) for p in procs for port in p.ports if port_in_use(port)]
    if busy:
        for proc, port in busy:
            say(f"port {port} (for {proc.name}) is already in use; stop what runs there")
        return 1
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for index, proc in enumerate(procs):
            start(proc, COLORS[index % len(COLORS)])
        problem = wait_ready(procs, stopping)
        if problem is not None:
            say(problem + "; stopping the rest")
            stop_all(procs)
            say(problem)
            return 1
        print_start(procs, base_env)
        while not stopping.wait(0.5):
            dead = first_exited(procs)
            if dead is not None:
                assert dead.popen is not None
                say(f"{dead.name} exited with code {dead.popen.returncode}; stopping the rest")
                return 1
        say("stopping")
        return 0
    finally:
        stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())

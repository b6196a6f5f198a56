"""Child processes of a benchmark (the emulator, a service, a floor) and what they cost: each runs
with its output in a log file (never a pipe that could fill up), and its CPU seconds and peak
resident memory are read from ``/proc/<pid>``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    """A started process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds so far (``/proc/<pid>/stat`` utime and stime)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def peak_rss_mb(self) -> float:
        """The peak resident set size so far (``VmHWM``), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(name: str, module: str, args: list[str], env: dict[str, str], logs: Path) -> Child:
    """``python -m module args`` with ``env`` added to ours; output goes to ``logs/<name>.log``."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    return Child(name, process, log)


async def wait_for_line(child: Child, event: str, timeout: float = 60) -> dict[str, Any]:
    """The first JSON line of the child's log whose ``event`` is ``event``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.alive()
        for line in child.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict) and data.get("event") == event:
                    return data
        await asyncio.sleep(0.05)  # polling the child's log for its start line
    raise TimeoutError(f"{child.name} did not log {event} within {timeout} s")


async def wait_ready(child: Child, url: str, timeout: float = 60) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            child.alive()
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)  # polling the child's readiness endpoint
    raise TimeoutError(f"{child.name} was not ready at {url} within {timeout} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorAdmin:
    """The standalone emulator's admin API (``/_emulator/``)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self._http, self._base = http, base_url.rstrip("/") + "/_emulator/"

    async def call(self, operation: str, **arguments: Any) -> Any:
        async with self._http.post(self._base + operation, json=arguments) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"emulator {operation}: {resp.status} {body}")
            return body["result"]

    async def view(self, name: str, **query: str) -> Any:
        async with self._http.get(self._base + name, params=query) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"emulator view {name}: {resp.status} {body}")
            return body


def write_results(directory: Path, name: str, figures: dict[str, Any], markdown: str) -> Path:
    """``<date>-<name>.json`` (the figures) and ``.md`` (``markdown``) in ``directory``; the
    Markdown file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{datetime.now(UTC):%Y-%m-%d}-{name}"
    stem.with_suffix(".json").write_text(json.dumps(figures, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown.rstrip("\n") + "\n")
    return stem.with_suffix(".md")

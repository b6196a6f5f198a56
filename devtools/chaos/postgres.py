"""A throwaway PostgreSQL for the chaos run: ``initdb`` into a temporary directory, served on a free
loopback port with trust authentication, restarted on demand (``pg_ctl restart``) and removed at the
end. Never the machine's own PostgreSQL, which a restart would take away from everyone else.
Runs the server as the ``postgres`` user (``runuser``) when started as root, as PostgreSQL requires."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from devtools.bench._procs import free_port

BIN_DIR = Path(os.environ.get("CHAOS_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
ROLE = "calsync"


class PostgresError(RuntimeError):
    """A pg_ctl or initdb step failed; the message carries its output."""


class ThrowawayPostgres:
    """``start()``, ``restart()``, ``stop()``; ``dsn`` names the ``calsync`` database as ``calsync``."""

    def __init__(self) -> None:
        if not (BIN_DIR / "initdb").exists():
            raise PostgresError(f"no PostgreSQL binaries in {BIN_DIR} (set CHAOS_PG_BIN_DIR)")
        self.base = Path(tempfile.mkdtemp(prefix="calsync-chaos-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.log = self.base / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/calsync"

    def _as_owner(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)

    async def _run(self, *argv: str) -> str:
        process = await asyncio.create_subprocess_exec(
            *self._as_owner(*argv),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.base,
        )
        out, _ = await process.communicate()
        text = out.decode(errors="replace")
        if process.returncode != 0:
            raise PostgresError(f"{Path(argv[0]).name} failed ({process.returncode}): {text[-2000:]}")
        return text

    async def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
        await self._run(str(BIN_DIR / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                        "--no-sync", "-E", "UTF8")  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.base}"
            " -c fsync=off -c max_connections=200 -c shared_buffers=64MB"
        )
        (self.data / "chaos.options").write_text(options)
        await self._pg_ctl("start")
        psql = str(BIN_DIR / "psql") if (BIN_DIR / "psql").exists() else "psql"
        for statement in (f"CREATE ROLE {ROLE} LOGIN CREATEDB", f"CREATE DATABASE calsync OWNER {ROLE}"):
            await self._run(psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                            "-v", "ON_ERROR_STOP=1", "-qc", statement)  # fmt: skip

    async def _pg_ctl(self, verb: str, *extra: str) -> None:
        options = (self.data / "chaos.options").read_text()
        await self._run(str(BIN_DIR / "pg_ctl"), verb, "-D", str(self.data), "-l", str(self.log),
                        "-o", options, "-w", "-t", "120", *extra)  # fmt: skip

    async def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again; returns once it accepts logins."""
        await self._pg_ctl("restart", "-m", "fast")

    async def stop(self) -> None:
        """Stop the server (immediately: its data is thrown away) and delete its directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                await self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

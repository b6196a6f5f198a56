"""Running the operator CLI (calsync_cli) in tests: in-process through ``run(argv, env)`` against
services running in-process on real ports, or as the installed ``calsync`` program."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from calsync_cli.main import run
from services.auth.config import SyncApiSettings
from services.sync.config import ChannelConfig
from shared.config import CommonConfig, GoogleConfig
from tests.e2e.support import Chain, StartChain
from tests.service.sync.support import Sync, running_sync
from tests.support.helpers import eventually


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


@dataclass
class Operator:
    """The services a user's trouble involves, and the CLI's environment pointing at them."""

    chain: Chain
    sync: Sync
    env: dict[str, str]

    async def calsync(self, *argv: str, **env: str) -> Ran:
        out, err = io.StringIO(), io.StringIO()
        code = await run(list(argv), {**self.env, **env}, out, err)
        return Ran(code, out.getvalue(), err.getvalue())

    async def program(self, *argv: str, **env: str) -> Ran:
        """``calsync`` as an operator runs it: a separate process (``python -m calsync_cli``)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "calsync_cli",
            *argv,
            env={**self.env, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode is not None
        return Ran(process.returncode, out.decode(), err.decode())

    async def user(self) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.calsync("user", self.chain.user_id, "--json")).json()
        return answer


@asynccontextmanager
async def operating(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google: GoogleConfig,
    token_keys: Any = None,
    **env: str,
) -> AsyncIterator[Operator]:
    """sync, then auth (asking that sync; with ``token_keys`` if given) and the notifier running, with
    the chain's user connected and sync watching their calendar through a live channel; ``env`` adds
    to the CLI's."""
    channels = ChannelConfig(interval=0.1, cache_seconds=0.1)
    auth_changes = {"token_keys": token_keys} if token_keys else {}
    async with (
        running_sync(common_config("sync"), google, channels=channels) as sync,
        start_chain(sync=SyncApiSettings(url=sync.url), **auth_changes) as chain,
    ):
        cli_env = {
            "AUTH_API_URL": chain.auth.url,
            "SYNC_API_URL": sync.url,
            "NOTIFIER_API_URL": chain.notifier.url,
            "SERVICE_TOKEN": chain.auth.service_token,
            "PATH": "/usr/bin:/bin",
            **env,
        }
        operator = Operator(chain, sync, cli_env)
        await eventually(lambda: _watched(operator), timeout=30)
        yield operator


async def _watched(operator: Operator) -> None:
    health = (await operator.user())["sync"]
    assert health["channel"] is not None and health["channel"]["state"] == "live", health
    assert health["inbound"] is not None and health["inbound"]["last_synced_at"] is not None, health

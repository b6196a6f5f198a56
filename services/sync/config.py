"""sync's settings, read once from the environment in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import CommonConfig, Env, GoogleConfig


@dataclass(frozen=True)
class SyncConfig:
    common: CommonConfig
    google: GoogleConfig

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SyncConfig:
        env = Env(environ)
        return cls(
            common=CommonConfig.from_env(env, service="sync", default_port=8082),
            google=GoogleConfig.from_env(env),
        )

"""Build any calsync service's app for tests from a CommonConfig and the emulator."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared.config import CommonConfig, GoogleConfig

SERVICES = ("auth", "sync", "notifier")


def google_for(emulator: Any) -> GoogleConfig:
    return GoogleConfig(
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        auth_url=emulator.auth_url,
        token_url=emulator.token_url,
        revoke_url=emulator.revoke_url,
        userinfo_url=emulator.userinfo_url,
        risc_config_url=emulator.risc_config_url,
        calendar_base_url=emulator.calendar_base_url,
    )


def build_app(service: str, common: CommonConfig, emulator: Any) -> web.Application:
    if service == "sync":
        from services.sync.app import create_app
        from services.sync.config import SyncConfig

        return create_app(SyncConfig(common=common, google=google_for(emulator)))
    if service == "auth":
        from services.auth.app import create_app as create_auth
        from tests.service.auth.flow import auth_config

        return create_auth(auth_config(common, google_for(emulator)))
    if service == "notifier":
        from services.notifier.app import create_app as create_notifier
        from tests.service.notifier.support import notifier_config

        # Readiness needs no mail server or auth: nothing is sent while the test runs.
        return create_notifier(notifier_config(common, smtp_port=1, auth_url="http://127.0.0.1:1"))
    raise ValueError(f"unknown service {service!r}")


def build_app_from_env(service: str, environ: dict[str, str]) -> web.Application:
    """The service's app as ``python -m services.<service>`` builds it, from ``environ`` (e.g.
    deploy/env.local plus the service's ``HTTP_PORT`` and ``PUBLIC_BASE_URL``, as ``make run`` sets them)."""
    if service == "auth":
        from services.auth.app import create_app as create_auth
        from services.auth.config import AuthConfig

        return create_auth(AuthConfig.from_env(environ))
    if service == "sync":
        from services.sync.app import create_app as create_sync
        from services.sync.config import SyncConfig

        return create_sync(SyncConfig.from_env(environ))
    if service == "notifier":
        from services.notifier.app import create_app as create_notifier
        from services.notifier.config import NotifierConfig

        return create_notifier(NotifierConfig.from_env(environ))
    raise ValueError(f"unknown service {service!r}")

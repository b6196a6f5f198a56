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

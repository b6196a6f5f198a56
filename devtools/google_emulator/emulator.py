"""The Google emulator facade: builds the one `EmulatorState`, the aiohttp app over it (each
endpoint group gets the state) and starts/stops serving. Tests use it in process; `make run`
runs it standalone (`python -m devtools.google_emulator`), driven over `/_emulator/`."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from aiohttp import web

from shared.landing import Link
from shared.web import add_landing_page

from . import admin, calendar_list, channels, events, oauth, page, risc, risc_management
from .errors import denied_as_response
from .faults import FaultPlan
from .keys import SigningKeys
from .middleware import fault_middleware
from .records import ENDPOINT_PATHS, PushRecord, RecordedRequest, RiscStream
from .state import EmulatorState

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


class _Part(Generic[S]):
    """Offers the methods of one part of the emulator (its state, fault plan or keys) on the facade."""

    def __init__(self, part: Callable[[GoogleEmulator], S]) -> None:
        self._part = part

    def __call__(self, method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[GoogleEmulator, P], R]:
        part = self._part

        @functools.wraps(method)
        def call(emulator: GoogleEmulator, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return method(part(emulator), *args, **kwargs)

        return call


_on_state: _Part[EmulatorState] = _Part(attrgetter("state"))
_on_faults: _Part[FaultPlan] = _Part(attrgetter("state.faults"))
_on_keys: _Part[SigningKeys] = _Part(attrgetter("state.keys"))


class _FromState(Generic[S]):
    """A read-only attribute of the state, shown on the facade under the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, emulator: GoogleEmulator, owner: type | None = None) -> S:
        value: S = getattr(emulator.state, self.name)
        return value


class _Url:
    """An endpoint URL of the emulator: its base URL plus the endpoint's path."""

    def __init__(self, name: str) -> None:
        self.path = ENDPOINT_PATHS[name]

    def __get__(self, emulator: GoogleEmulator, owner: type | None = None) -> str:
        return emulator.base_url + self.path


class GoogleEmulator:
    """Behaves like Google's OAuth server and Calendar API v3 (see docs/google.md). The seeding,
    fault and inspection methods below are the state's (see `EmulatorState`)."""

    def __init__(
        self,
        public_url: str | None = None,
        *,
        client_id: str = "calsync-test-client.apps.googleusercontent.com",
        client_secret: str = "calsync-test-secret",
        access_token_ttl: int = 3599,
    ) -> None:
        self.state = EmulatorState(client_id, client_secret, access_token_ttl)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.state.base_url = self.public_url or ""
        self.pusher = channels.Pusher(self.state)
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    def _build_app(self) -> web.Application:
        state = self.state
        app = web.Application(middlewares=[fault_middleware(state), denied_as_response])
        for group in (oauth.routes(state), risc.routes(state), calendar_list.routes(state)):
            app.add_routes(group)
        app.add_routes(channels.routes(state, self.pusher))  # before events: /events/watch
        app.add_routes(events.routes(state))
        app.add_routes(page.routes(state))
        app.add_routes(admin.routes(state, self.pusher))
        app.add_routes(risc_management.routes(state, self.pusher))
        add_landing_page(
            app,
            title="Google emulator",
            description=(
                "A stand-in for Google's OAuth, security events (RISC) and Calendar v3 for local runs "
                "and tests. Its own page shows the emulated accounts, calendars, events and grants, "
                "with buttons to revoke access, change a password, delete an account or send a "
                "security event."
            ),
            links=[
                Link("The emulator's page", page.PAGE_PATH, "accounts, events, grants and buttons"),
                Link("Accounts (JSON)", "/_emulator/users"),
                Link("Endpoint URLs (JSON)", "/_emulator/urls"),
                Link("OpenID configuration", "/.well-known/openid-configuration"),
            ],
        )
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _: web.Application) -> None:
        await self.pusher.open()

    async def _on_cleanup(self, _: web.Application) -> None:
        await self.pusher.close()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0][1]
        self.state.base_url = self.public_url or f"http://{host}:{bound}"
        return self.state.base_url

    async def stop(self) -> None:
        """Stop serving, cancel pending pushes and close the outbound session."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # settings and URLs

    client_id: _FromState[str] = _FromState()
    client_secret: _FromState[str] = _FromState()
    base_url: _FromState[str] = _FromState()

    auth_url = _Url("auth_url")
    token_url = _Url("token_url")
    revoke_url = _Url("revoke_url")
    userinfo_url = _Url("userinfo_url")
    risc_config_url = _Url("risc_config_url")
    jwks_url = _Url("jwks_url")
    calendar_base_url = _Url("calendar_base_url")

    def allow_http_push(self, host: str) -> None:
        """Also accept plain http:// watch addresses on `host` (loopback is always accepted)."""
        self.state.insecure_push_hosts.add(host)

    # inspection (read-only views of the request log, pushes and token counters)

    requests: _FromState[list[RecordedRequest]] = _FromState()
    pushes: _FromState[list[PushRecord]] = _FromState()
    risc_stream: _FromState[RiscStream | None] = _FromState()
    revoked_tokens: _FromState[list[str]] = _FromState()
    token_calls: _FromState[int] = _FromState()
    token_calls_by_grant: _FromState[Counter[str]] = _FromState()
    token_inflight_peak: _FromState[int] = _FromState()

    @property
    def signing_kid(self) -> str:
        return self.state.keys.signing_kid

    async def flush_pushes(self) -> None:
        """Wait until every push scheduled so far has been delivered, retried out or dropped."""
        await self.pusher.flush()

    async def post_set(self, receiver_url: str, token: str) -> int:
        """POST an already signed (or forged) SET to a receiver."""
        return await risc.post_set(self.pusher.http, receiver_url, token)

    async def send_security_event(
        self,
        receiver_url: str,
        event_type: str,
        subject: dict[str, Any],
        *,
        reason: str | None = None,
        jti: str | None = None,
        aud: str | None = None,
    ) -> int:
        """Sign a SET and POST it to `receiver_url`; returns the receiver's HTTP status."""
        built = self.state.keys.build_set(event_type, subject, reason=reason, jti=jti, aud=aud)
        return await self.post_set(receiver_url, self.state.keys.sign_set(built))

    # the state's public API
    add_user = _on_state(EmulatorState.add_user)
    user = _on_state(EmulatorState.user)
    has_user = _on_state(EmulatorState.has_user)
    add_calendar = _on_state(EmulatorState.add_calendar)
    remove_calendar = _on_state(EmulatorState.remove_calendar)
    set_access_role = _on_state(EmulatorState.set_access_role)
    rename_calendar = _on_state(EmulatorState.rename_calendar)
    role_on = _on_state(EmulatorState.role_on)
    delete_account = _on_state(EmulatorState.delete_account)
    restore_account = _on_state(EmulatorState.restore_account)
    set_admin_policy = _on_state(EmulatorState.set_admin_policy)
    set_time_limited = _on_state(EmulatorState.set_time_limited)
    set_consent = _on_state(EmulatorState.set_consent)
    register_redirect_uri = _on_state(EmulatorState.register_redirect_uri)
    disable_client = _on_state(EmulatorState.disable_client)
    omit_scope_in_token_response = _on_state(EmulatorState.omit_scope_in_token_response)
    add_grant = _on_state(EmulatorState.add_grant)
    issue_access_token = _on_state(EmulatorState.issue_access_token)
    grant_token = _on_state(EmulatorState.grant_token)
    grant_for_refresh_token = _on_state(EmulatorState.grant_for_refresh_token)
    live_grants = _on_state(EmulatorState.live_grants)
    refresh_tokens_of = _on_state(EmulatorState.refresh_tokens_of)
    access_tokens_of = _on_state(EmulatorState.access_tokens_of)
    issued_secrets = _on_state(EmulatorState.issued_secrets)
    access_token_for = _on_state(EmulatorState.access_token_for)
    revoke_grant = _on_state(EmulatorState.revoke_grant)
    revoke_user = _on_state(EmulatorState.revoke_user)
    change_password = _on_state(EmulatorState.change_password)
    expire_access_tokens = _on_state(EmulatorState.expire_access_tokens)
    seed_event = _on_state(EmulatorState.seed_event)
    user_put_event = _on_state(EmulatorState.user_put_event)
    user_delete_event = _on_state(EmulatorState.user_delete_event)
    events = _on_state(EmulatorState.events)
    invalidate_sync_tokens = _on_state(EmulatorState.invalidate_sync_tokens)
    invalidate_sync_token = _on_state(EmulatorState.invalidate_sync_token)
    fail_next = _on_faults(FaultPlan.fail_next)
    fail_for = _on_faults(FaultPlan.fail_for)
    fail_share = _on_faults(FaultPlan.fail_share)
    rate_limit = _on_faults(FaultPlan.rate_limit)
    set_latency = _on_faults(FaultPlan.set_latency)
    set_calendar_latency = _on_faults(FaultPlan.set_calendar_latency)
    response_delay = _on_faults(FaultPlan.response_delay)
    drop_connections = _on_faults(FaultPlan.drop_connections)
    clear_faults = _on_faults(FaultPlan.clear_faults)
    drop_next_push = _on_faults(FaultPlan.drop_next_push)
    drop_pushes = _on_faults(FaultPlan.drop_pushes)
    reset_stats = _on_state(EmulatorState.reset_stats)
    add_service_account = _on_state(EmulatorState.add_service_account)
    rotate_risc_key = _on_keys(SigningKeys.rotate_risc_key)
    jwks = _on_keys(SigningKeys.jwks)
    sign_set = _on_keys(SigningKeys.sign_set)
    build_set = _on_keys(SigningKeys.build_set)
    subject_iss_sub = _on_keys(SigningKeys.subject_iss_sub)
    subject_token = _on_keys(SigningKeys.subject_token)

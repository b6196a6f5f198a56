"""Records the Google emulator keeps (accounts, calendars, grants, tokens, codes, channels, the
request log) and the id and time formats Google uses; plain data, no behaviour."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
ROLE_RANK = {"freeBusyReader": 0, "reader": 1, "writer": 2, "owner": 3}
IDENTITY_SCOPES = {
    "openid": "openid",
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}


def new_access_token() -> str:
    return "ya29." + secrets.token_urlsafe(120)


def new_refresh_token() -> str:
    return "1//" + secrets.token_urlsafe(72)


def new_code() -> str:
    return "4/" + secrets.token_urlsafe(54)


def new_event_id() -> str:
    return "".join(secrets.choice(BASE32HEX) for _ in range(26))


def now_ms() -> int:
    return int(time.time() * 1000)


def rfc3339(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


@dataclass
class EmuUser:
    """A Google account known to the emulator."""

    email: str
    sub: str
    name: str
    deleted: bool = False
    admin_policy: bool = False
    time_limit_seconds: int | None = None


@dataclass
class ListEntry:
    """One user's calendarList entry for a calendar."""

    calendar_id: str
    access_role: str
    seq: int
    deleted: bool = False
    hidden: bool = False
    summary_override: str | None = None  # the user's own name for the calendar


@dataclass
class EventRecord:
    """A stored event; `seq` orders changes for sync tokens."""

    data: dict[str, Any]
    seq: int


@dataclass
class CalendarData:
    """A calendar with its events and change counter."""

    id: str
    summary: str
    resource_id: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    events: dict[str, EventRecord] = field(default_factory=dict)
    seq: int = 0
    sync_generation: int = 0
    time_zone: str = "UTC"


@dataclass
class Grant:
    """The result of one consent: scopes, and a refresh token when one was issued."""

    email: str
    client_id: str
    scopes: list[str]
    refresh_token: str | None
    created: float = field(default_factory=time.time)
    revoked: bool = False
    expires_at: float | None = None


@dataclass
class AccessToken:
    """An issued access token, bound to its grant."""

    grant: Grant
    scopes: list[str]
    expires_at: float


@dataclass
class AuthCode:
    """An authorization code waiting to be exchanged (single use)."""

    email: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    code_challenge: str | None
    code_challenge_method: str
    issue_refresh_token: bool
    nonce: str | None
    expires_at: float
    used: bool = False


@dataclass
class Consent:
    """Who is signed in in the emulated browser and what they tick on the consent screen."""

    email: str | None = None
    granted_scopes: list[str] | None = None
    deny: bool = False


@dataclass
class Channel:
    """An events.watch channel and its push bookkeeping."""

    id: str
    resource_id: str
    resource_uri: str
    token: str | None
    address: str
    expiration_ms: int
    calendar_id: str
    email: str
    message_number: int = 0
    stopped: bool = False


@dataclass
class RiscStream:
    """The project's Cross-Account Protection stream: where Google pushes security events, which
    ones, and whether it sends them at all (`enabled` or `disabled`)."""

    receiver_url: str
    events_requested: list[str]
    status: str = "enabled"


@dataclass
class RecordedRequest:
    """One request the emulator received (secrets included: tests may assert on them).
    ``answered_at``: ``time.perf_counter()`` when the reply was ready; ``error``: an OAuth error code."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    status: int | None = None
    answered_at: float | None = None
    error: str | None = None


@dataclass
class PushRecord:
    """One push the emulator sent or dropped."""

    channel_id: str
    state: str
    message_number: int
    status: int | None
    dropped: bool = False


ENDPOINT_PATHS = {
    "auth_url": "/o/oauth2/v2/auth",
    "token_url": "/token",
    "revoke_url": "/revoke",
    "userinfo_url": "/v1/userinfo",
    "risc_config_url": "/.well-known/risc-configuration",
    "jwks_url": "/oauth2/v3/certs",
    "calendar_base_url": "/calendar/v3/",
}

"""The Google emulator's state: ONE object every endpoint group receives. Accounts, grants and
tokens, calendars and events, sync tokens, channels, the request log, plus its fault plan
(`faults`) and signing keys (`keys`); pure state operations (the public seeding API), no I/O."""

from __future__ import annotations

import copy
import time
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

from . import event_rules
from .faults import FaultPlan
from .keys import ServiceAccount, SigningKeys, new_service_account
from .paging import PageTable
from .records import (
    ROLE_RANK,
    AccessToken,
    AuthCode,
    CalendarData,
    Channel,
    Consent,
    EmuUser,
    Grant,
    ListEntry,
    PushRecord,
    RecordedRequest,
    RiscStream,
    new_access_token,
    new_refresh_token,
)

GMAIL_SCOPE_PREFIXES = ("https://mail.google.com/", "https://www.googleapis.com/auth/gmail.")


def _check_role(access_role: str) -> None:
    if access_role not in ROLE_RANK:
        raise ValueError(f"unknown access role {access_role}")


class EmulatorState:
    """Everything the emulator knows; methods are the seeding, fault and inspection API."""

    def __init__(self, client_id: str, client_secret: str, access_token_ttl: int) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.access_token_ttl = access_token_ttl
        self.base_url = ""
        self.risc_receiver_url = ""  # where the emulator's page sends security events (auth's /risc)
        self.users: dict[str, EmuUser] = {}
        self.consent = Consent()
        self.redirect_uris: set[str] = set()
        self.client_disabled = self.omit_scope = False
        self.grants: list[Grant] = []
        self.refresh_index: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.revoked_tokens: list[str] = []
        self.calendars: dict[str, CalendarData] = {}
        self.calendar_lists: dict[str, dict[str, ListEntry]] = {}
        self.list_seq = self.list_generation = 0
        self.pages = PageTable()
        self.channels: dict[str, Channel] = {}
        self.pushes: list[PushRecord] = []
        self.insecure_push_hosts = {"127.0.0.1", "localhost", "::1"}
        self.faults = FaultPlan()
        self.keys = SigningKeys(client_id)
        self.service_accounts: dict[str, ServiceAccount] = {}  # by key id
        self.risc_stream: RiscStream | None = None
        self.requests: list[RecordedRequest] = []
        self.token_calls = self.token_inflight_peak = self.token_inflight = 0
        self.token_calls_by_grant: Counter[str] = Counter()
        self.change_listeners: list[Callable[[str], None]] = []

    # accounts and calendars

    def add_user(self, email: str, *, sub: str | None = None, name: str | None = None) -> EmuUser:
        """Create an account with a primary calendar whose id is the email (role owner)."""
        if sub is None:
            sub = str(100000000000000000000 + zlib.crc32(email.lower().encode()) * 1000003)
        user = EmuUser(email=email, sub=sub, name=name or email.split("@")[0].title())
        self.users[email] = user
        self.calendar_lists.setdefault(email, {})
        self.add_calendar(email, email, email, access_role="owner")
        return user

    def user(self, email: str) -> EmuUser:
        """The account `email` (KeyError if unknown)."""
        return self.users[email]

    def has_user(self, email: str) -> bool:
        """Whether an account `email` exists (deleted ones included)."""
        return email in self.users

    def add_calendar(self, email: str, calendar_id: str, summary: str, access_role: str = "writer") -> None:
        """Put a calendar (created if new) on `email`'s calendar list with `access_role`."""
        _check_role(access_role)
        self.calendars.setdefault(calendar_id, CalendarData(id=calendar_id, summary=summary))
        self.list_seq += 1
        entries = self.calendar_lists.setdefault(email, {})
        entries[calendar_id] = ListEntry(calendar_id, access_role, self.list_seq)

    def remove_calendar(self, email: str, calendar_id: str) -> None:
        """Take a calendar off `email`'s list (their access ends; the entry shows as deleted)."""
        entry = self.calendar_lists[email][calendar_id]
        self.list_seq += 1
        entry.deleted, entry.seq = True, self.list_seq

    def rename_calendar(self, email: str, calendar_id: str, summary_override: str | None) -> None:
        """Give a calendar on `email`'s list the user's own name (calendarList `summaryOverride`)."""
        entry = self.calendar_lists[email][calendar_id]
        self.list_seq += 1
        entry.summary_override, entry.seq = summary_override, self.list_seq

    def set_access_role(self, email: str, calendar_id: str, access_role: str) -> None:
        """Change `email`'s effective role on a calendar already on their list."""
        _check_role(access_role)
        entry = self.calendar_lists[email][calendar_id]
        self.list_seq += 1
        entry.access_role, entry.seq, entry.deleted = access_role, self.list_seq, False

    def role_on(self, email: str, calendar_id: str) -> str | None:
        """`email`'s effective role on a calendar, or None without access."""
        entry = self.calendar_lists.get(email, {}).get(calendar_id)
        return None if entry is None or entry.deleted else entry.access_role

    def delete_account(self, email: str) -> None:
        """Delete the account: refresh gives "Account has been deleted", tokens stop working."""
        self.users[email].deleted = True

    def restore_account(self, email: str) -> None:
        """Undo `delete_account` (a disabled account that came back)."""
        self.users[email].deleted = False

    def set_admin_policy(self, email: str, enforced: bool = True) -> None:
        """A Workspace admin restricts our scopes: refresh -> 400 admin_policy_enforced."""
        self.users[email].admin_policy = enforced

    def set_time_limited(self, email: str, seconds: int) -> None:
        """Make the user's grants (existing and future) time-limited to `seconds` from now."""
        self.users[email].time_limit_seconds = seconds
        for grant in self.live_grants(email):
            grant.expires_at = time.time() + seconds

    # consent screen and OAuth client

    def set_consent(
        self, email: str | None = None, *, granted_scopes: list[str] | None = None, deny: bool = False
    ) -> None:
        """Choose who is signed in at the consent screen and which scopes they tick.

        `granted_scopes=None` grants everything requested; identity scopes (openid, email,
        profile) are never unticked, as on Google's granular consent screen."""
        self.consent = Consent(email=email, granted_scopes=granted_scopes, deny=deny)

    def register_redirect_uri(self, uri: str) -> None:
        """Register an exact redirect URI (loopback http URIs are accepted anyway)."""
        self.redirect_uris.add(uri)

    def disable_client(self, disabled: bool = True) -> None:
        """Our OAuth client is gone: the token endpoint answers 401 invalid_client."""
        self.client_disabled = disabled

    def omit_scope_in_token_response(self, omit: bool = True) -> None:
        """Leave `scope` out of token responses (RFC 6749 allows it when unchanged)."""
        self.omit_scope = omit

    # grants and tokens

    def add_grant(self, email: str, scopes: list[str], refresh_token: str | None = None) -> Grant:
        """A live consent by `email` for `scopes` with a refresh token (new one if not given)."""
        grant = Grant(email, self.client_id, list(scopes), refresh_token or new_refresh_token())
        self.record_grant(grant)
        return grant

    def record_grant(self, grant: Grant) -> None:
        """Keep a grant made by a consent, indexed by its refresh token."""
        self.grants.append(grant)
        if grant.refresh_token:
            self.refresh_index.setdefault(grant.refresh_token, grant)

    def issue_access_token(self, grant: Grant, scopes: list[str]) -> str:
        """A new access token for `grant`, valid for `access_token_ttl` seconds."""
        token = new_access_token()
        self.access_tokens[token] = AccessToken(grant, list(scopes), time.time() + self.access_token_ttl)
        return token

    def grant_token(self, email: str, scopes: list[str]) -> str:
        """Shortcut for tests of Calendar calls: a live grant (no refresh token) and an access token."""
        grant = Grant(email, self.client_id, list(scopes), None)
        self.record_grant(grant)
        return self.issue_access_token(grant, scopes)

    def grant_for_refresh_token(self, token: str) -> Grant | None:
        """The grant holding refresh token `token`, revoked or not."""
        return self.refresh_index.get(token) if token else None

    def live_grants(self, email: str) -> list[Grant]:
        """`email`'s grants that are not revoked, oldest first."""
        return [g for g in self.grants if g.email == email and not g.revoked]

    def refresh_tokens_of(self, email: str) -> list[str]:
        """Every refresh token ever issued to `email` (revoked ones included), oldest first."""
        return [g.refresh_token for g in self.grants if g.email == email and g.refresh_token]

    def access_tokens_of(self, email: str) -> list[str]:
        """`email`'s access tokens that were issued and not revoked (expired ones included)."""
        return [t for t, a in self.access_tokens.items() if a.grant.email == email]

    def issued_secrets(self) -> set[str]:
        """Every access token, refresh token and authorization code issued so far."""
        refresh = {g.refresh_token for g in self.grants if g.refresh_token}
        return refresh | set(self.access_tokens) | set(self.codes) | set(self.revoked_tokens)

    def access_token_for(self, token: str) -> AccessToken | None:
        """The live access token record, or None if unknown, expired, revoked or account gone."""
        access = self.access_tokens.get(token)
        if access is None or access.expires_at <= time.time() or access.grant.revoked:
            return None
        user = self.users.get(access.grant.email)
        return None if user is None or user.deleted else access

    def revoke_grant(self, grant: Grant) -> None:
        """End one grant: its refresh token and its access tokens stop working."""
        grant.revoked = True
        if grant.refresh_token:
            self.revoked_tokens.append(grant.refresh_token)
        for token, access in list(self.access_tokens.items()):
            if access.grant is grant:
                self.revoked_tokens.append(token)
                del self.access_tokens[token]

    def revoke_user(self, email: str) -> None:
        """Revoke all of the user's grants, as when they remove our access in their account."""
        for grant in self.live_grants(email):
            self.revoke_grant(grant)

    def change_password(self, email: str, *, revokes_calendar: bool = False) -> None:
        """The user changed their password: grants holding a Gmail scope die (docs/google.md §4, row 3);
        `revokes_calendar=True` also ends Calendar-only grants, as older Google docs described."""
        for grant in self.live_grants(email):
            gmail = any(s.startswith(GMAIL_SCOPE_PREFIXES) for s in grant.scopes)
            if gmail or revokes_calendar:
                self.revoke_grant(grant)

    def expire_access_tokens(self, email: str | None = None) -> None:
        """Make issued access tokens (all, or `email`'s) expired: Calendar then answers 401."""
        for access in self.access_tokens.values():
            if email is None or access.grant.email == email:
                access.expires_at = 0.0

    # events

    def notify_changed(self, calendar_id: str) -> None:
        """Tell the listeners (the pusher) that a calendar's events changed."""
        for listener in self.change_listeners:
            listener(calendar_id)

    def save_event(self, cal: CalendarData, data: dict[str, Any]) -> dict[str, Any]:
        """Store a new version of an event and tell the watchers; returns a copy."""
        stored = event_rules.store(cal, data)
        self.notify_changed(cal.id)
        return stored

    def user_put_event(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """A change made by the user in Google Calendar: insert, or patch the event with this id."""
        cal = self.calendars[calendar_id]
        record = cal.events.get(event.get("id", ""))
        if record is None:
            return self.save_event(cal, event_rules.new_event(cal, event, calendar_id))
        return self.save_event(cal, event_rules.patched(record, event))

    def seed_event(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """Put an event on a calendar (same as `user_put_event`); returns it as Google would."""
        return self.user_put_event(calendar_id, event)

    def user_delete_event(self, calendar_id: str, event_id: str) -> None:
        """The user deleted the event in Google Calendar (it stays, as `cancelled`)."""
        record = self.calendars[calendar_id].events[event_id]
        record.data["status"] = "cancelled"
        self.save_event(self.calendars[calendar_id], record.data)

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        """Stored events of a calendar, deleted ones included (status "cancelled")."""
        return [copy.deepcopy(r.data) for r in self.calendars[calendar_id].events.values()]

    def invalidate_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Make sync tokens issued so far (for one calendar or all) answer 410 fullSyncRequired."""
        for cal in self.calendars.values():
            if calendar_id is None or cal.id == calendar_id:
                cal.sync_generation += 1
        if calendar_id is None:
            self.list_generation += 1

    def invalidate_sync_token(self, calendar_id: str) -> None:
        """One calendar's sync tokens answer 410 fullSyncRequired from now on."""
        self.invalidate_sync_tokens(calendar_id)

    # the Cloud project's service accounts (RISC management, docs/google.md §11)

    def add_service_account(self, name: str = "calsync-risc") -> dict[str, str]:
        """A service account with a new key; returns its JSON key file (the private key included)."""
        account, key_file = new_service_account(name, "calsync-emulated", self.base_url + "/token")
        self.service_accounts[account.key_id] = account
        return key_file

    # request log

    def reset_stats(self) -> None:
        """Forget recorded requests and token-endpoint counters."""
        self.requests.clear()
        self.token_calls = self.token_inflight_peak = 0
        self.token_calls_by_grant.clear()

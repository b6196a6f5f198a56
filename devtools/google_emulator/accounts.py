"""Python API over the emulator's accounts, calendars, consent and grants; the admin HTTP
endpoints call the same methods."""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict
from typing import Any

from .state import (
    ROLE_RANK,
    AccessToken,
    AuthCode,
    CalendarData,
    Consent,
    EmuUser,
    Grant,
    ListEntry,
)


class AccountsMixin:
    """Users, calendars, consent and grant state (google.md §2-5, §7)."""

    client_id: str
    client_secret: str
    access_token_ttl: int
    users: dict[str, EmuUser]
    calendars: dict[str, CalendarData]
    calendar_lists: dict[str, dict[str, ListEntry]]
    list_seq: int
    consent: Consent
    grants: list[Grant]
    _refresh_index: dict[str, Grant]
    _indexed: int
    access_tokens: dict[str, AccessToken]
    codes: dict[str, AuthCode]
    revoked_tokens: list[str]
    redirect_uris: set[str]
    client_disabled: bool
    omit_scope: bool

    def _init_accounts(self) -> None:
        self.users = {}
        self.calendars = {}
        self.calendar_lists = {}
        self.list_seq = 0
        self.consent = Consent()
        self.grants = []
        self._refresh_index = {}
        self._indexed = 0
        self.access_tokens = {}
        self.codes = {}
        self.revoked_tokens = []
        self.redirect_uris = set()
        self.client_disabled = False
        self.omit_scope = False

    def add_user(self, email: str, *, sub: str | None = None, name: str | None = None) -> EmuUser:
        """Create an account with a primary calendar whose id is the email (role owner)."""
        if sub is None:
            sub = str(100000000000000000000 + zlib.crc32(email.lower().encode()) * 1000003)
        user = EmuUser(email=email, sub=sub, name=name or email.split("@")[0].title())
        self.users[email] = user
        self.calendar_lists.setdefault(email, {})
        self.add_calendar(email, email, email, access_role="owner")
        return user

    def add_calendar(self, email: str, calendar_id: str, summary: str, access_role: str = "writer") -> None:
        """Put a calendar (created if new) on `email`'s calendar list with `access_role`."""
        if access_role not in ROLE_RANK:
            raise ValueError(f"unknown access role {access_role}")
        self.calendars.setdefault(calendar_id, CalendarData(id=calendar_id, summary=summary))
        self.list_seq += 1
        entries = self.calendar_lists.setdefault(email, {})
        entries[calendar_id] = ListEntry(calendar_id, access_role, self.list_seq)

    def remove_calendar(self, email: str, calendar_id: str) -> None:
        """Take a calendar off `email`'s list (their access ends; the entry shows as deleted)."""
        entry = self.calendar_lists[email][calendar_id]
        self.list_seq += 1
        entry.deleted, entry.seq = True, self.list_seq

    def set_access_role(self, email: str, calendar_id: str, access_role: str) -> None:
        """Change `email`'s effective role on a calendar already on their list."""
        if access_role not in ROLE_RANK:
            raise ValueError(f"unknown access role {access_role}")
        entry = self.calendar_lists[email][calendar_id]
        self.list_seq += 1
        entry.access_role, entry.seq, entry.deleted = access_role, self.list_seq, False

    def set_consent(
        self,
        email: str | None = None,
        *,
        granted_scopes: list[str] | None = None,
        deny: bool = False,
    ) -> None:
        """Choose who is signed in at the consent screen and which scopes they tick.

        `granted_scopes=None` grants everything requested; identity scopes (openid, email,
        profile) are never unticked, as on Google's granular consent screen."""
        self.consent = Consent(email=email, granted_scopes=granted_scopes, deny=deny)

    def register_redirect_uri(self, uri: str) -> None:
        """Register an exact redirect URI (loopback http URIs are accepted anyway)."""
        self.redirect_uris.add(uri)

    def grant_for_refresh_token(self, token: str) -> Grant | None:
        """The grant holding refresh token `token` (O(1); grants appended directly are indexed too)."""
        for grant in self.grants[self._indexed :]:
            if grant.refresh_token:
                self._refresh_index.setdefault(grant.refresh_token, grant)
        self._indexed = len(self.grants)
        return self._refresh_index.get(token) if token else None

    def _user_grants(self, email: str) -> list[Grant]:
        return [g for g in self.grants if g.email == email and not g.revoked]

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        if grant.refresh_token:
            self.revoked_tokens.append(grant.refresh_token)
        for token, access in list(self.access_tokens.items()):
            if access.grant is grant:
                self.revoked_tokens.append(token)
                del self.access_tokens[token]

    def revoke_user(self, email: str) -> None:
        """Revoke all of the user's grants, as when they remove our access in their account."""
        for grant in self._user_grants(email):
            self.revoke_grant(grant)

    def delete_account(self, email: str) -> None:
        """Delete the account: refresh gives "Account has been deleted", tokens stop working."""
        self.users[email].deleted = True

    def restore_account(self, email: str) -> None:
        """Undo `delete_account` (a disabled account that came back)."""
        self.users[email].deleted = False

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired (Calendar then answers 401)."""
        for access in self.access_tokens.values():
            access.expires_at = 0.0

    def set_admin_policy(self, email: str, enforced: bool = True) -> None:
        """A Workspace admin restricts our scopes: refresh -> 400 admin_policy_enforced."""
        self.users[email].admin_policy = enforced

    def disable_client(self, disabled: bool = True) -> None:
        """Our OAuth client is gone: the token endpoint answers 401 invalid_client."""
        self.client_disabled = disabled

    def set_time_limited(self, email: str, seconds: int) -> None:
        """Make the user's grants (existing and future) time-limited to `seconds` from now."""
        self.users[email].time_limit_seconds = seconds
        for grant in self._user_grants(email):
            grant.expires_at = time.time() + seconds

    def omit_scope_in_token_response(self, omit: bool = True) -> None:
        """Leave `scope` out of token responses (RFC 6749 allows it when unchanged)."""
        self.omit_scope = omit

    def access_token_for(self, token: str) -> AccessToken | None:
        """The live access token record, or None if unknown, expired, revoked or account gone."""
        access = self.access_tokens.get(token)
        if access is None or access.expires_at <= time.time() or access.grant.revoked:
            return None
        user = self.users.get(access.grant.email)
        if user is None or user.deleted:
            return None
        return access

    def role_on(self, email: str, calendar_id: str) -> str | None:
        entry = self.calendar_lists.get(email, {}).get(calendar_id)
        return None if entry is None or entry.deleted else entry.access_role

    def user_info(self, email: str) -> dict[str, Any]:
        return asdict(self.users[email])

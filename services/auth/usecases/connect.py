"""Connect and reconnect: the OAuth round trip from the settings page's button to a stored grant.

``start`` records a single-use ``state`` bound to the user, the browser (hash of a random cookie) and
the PKCE verifier (encrypted), and builds Google's consent URL. ``finish`` checks that state before
anything else, exchanges the code, checks the granted scopes, learns the Google account and stores
the grant in place (one grant per user, same grant_id on reconnect) with ``grant.connected``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import asyncpg
import structlog

from services.auth.adapters import connection_repository, crypto, identity
from services.auth.adapters.crypto import TokenCipher, field_aad
from services.auth.config import AuthConfig
from services.auth.domain import grant_events, refresh_rules
from services.auth.domain.model import Connection, Grant
from services.auth.domain.oauth_types import OAuthError, OAuthTransportError, TokenResponse
from services.auth.domain.outcomes import Outcome, OutcomeKind
from services.auth.usecases.deps import ConnectionDeps
from shared.clock import Clock
from shared.db import transaction
from shared.outbox import Outbox

log = structlog.get_logger(__name__)

CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_LIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
REQUIRED_SCOPES = (CALENDAR_EVENTS, CALENDAR_LIST)


@dataclass(frozen=True)
class Start:
    url: str  # Google's consent screen
    browser_value: str  # the value of the browser-binding cookie (new, or the one the browser had)


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def start(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    locale: str,
    browser_value: str | None,
    config: AuthConfig,
    cipher: TokenCipher,
    clock: Clock,
) -> Start:
    """Record a fresh state for this user and browser; returns the consent URL."""
    grant = await connection_repository.get_grant_by_user(conn, user_id)
    login_hint = (grant.google_email or grant.google_sub) if grant is not None else None
    state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    browser = browser_value or secrets.token_urlsafe(32)
    now = clock.now()
    state_hash = crypto.sha256_hex(state)
    await connection_repository.insert_state(
        conn,
        connection_repository.OAuthState(
            state_hash=state_hash,
            user_id=user_id,
            locale=locale,
            browser_hash=crypto.sha256_hex(browser),
            code_verifier_enc=cipher.encrypt(verifier, aad=field_aad(state_hash, "code_verifier")),
            login_hint=login_hint,
            created_at=now,
            expires_at=now + timedelta(seconds=config.state_ttl),
        ),
    )
    log.info("connect_started", user_id=user_id, reconnect=grant is not None)
    return Start(url=_consent_url(config, state, verifier, login_hint), browser_value=browser)


def _consent_url(config: AuthConfig, state: str, verifier: str, login_hint: str | None) -> str:
    """Google's consent screen: offline access, consent every time, PKCE S256 (docs/google.md §2)."""
    params = {
        "response_type": "code",
        "client_id": config.google.client_id,
        "redirect_uri": config.redirect_uri,
        "scope": " ".join(config.scopes),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    return config.google.auth_url + "?" + urlencode(params)


async def _claim_state(
    pool: asyncpg.Pool, state: str, browser_value: str | None, now: datetime
) -> connection_repository.OAuthState | str:
    """The state record, now marked used; or why it is refused (never detailed to the user)."""
    if not state:
        return "missing"
    state_hash = crypto.sha256_hex(state)
    async with pool.acquire() as conn, conn.transaction():
        record = await connection_repository.get_state_for_update(conn, state_hash)
        if record is None:
            return "unknown"
        if record.used_at is not None:
            return "replayed"
        if record.expires_at <= now:
            return "expired"
        if not browser_value or not secrets.compare_digest(
            crypto.sha256_hex(browser_value), record.browser_hash
        ):
            return "other_browser"
        await connection_repository.mark_state_used(conn, state_hash, now)
    return record


async def finish(deps: ConnectionDeps, query: Mapping[str, str], *, browser_value: str | None) -> Outcome:
    """Handle Google's redirect back to us; returns what the result page shows."""
    record = await _claim_state(deps.pool, query.get("state", ""), browser_value, deps.clock.now())
    if isinstance(record, str):
        log.warning("connect_refused", why=record, google_error=query.get("error"))
        return Outcome("invalid_state", locale=None, status=400)
    base = Outcome("connected", locale=record.locale, user_id=record.user_id)
    if "error" in query or not query.get("code"):
        error = query.get("error", "no_code")
        log.info("connect_declined", user_id=record.user_id, google_error=error)
        if error == "access_denied":
            return base.but("denied", error=error)
        return base.but("google_error", error=error, status=400)
    verifier = deps.cipher.decrypt(
        record.code_verifier_enc, aad=field_aad(record.state_hash, "code_verifier")
    )
    try:
        tokens = await deps.google.exchange_code(query["code"], verifier, deps.config.redirect_uri)
    except OAuthError as exc:
        log.warning("connect_exchange_refused", user_id=record.user_id, google_error=exc.error)
        return base.but("google_error", error=exc.error, status=400)
    except OAuthTransportError as exc:
        log.warning("connect_exchange_failed", user_id=record.user_id, error=exc.detail)
        return base.but("unavailable", status=502)
    return await _complete(deps, record, tokens, base)


async def _complete(
    deps: ConnectionDeps, record: connection_repository.OAuthState, tokens: TokenResponse, base: Outcome
) -> Outcome:
    config = deps.config
    # RFC 6749 §5.1: a response without ``scope`` was granted exactly the requested scopes.
    granted = tokens.scope if tokens.scope is not None else config.scopes
    refused = _refusal(record, tokens, granted, base)
    if refused is not None:
        return refused
    who = await identity.learn(tokens, google=deps.google, client_id=config.google.client_id)
    if who is None:
        log.warning("connect_identity_unknown", user_id=record.user_id)
        return base.but("unavailable", status=502)
    async with transaction(deps.pool) as conn:
        previous = await _store(
            conn,
            record.user_id,
            tokens,
            who,
            granted,
            cipher=deps.cipher,
            outbox=deps.outbox,
            settings=config.refresh,
            now=deps.clock.now(),
            jitter=deps.jitter(),
        )
    changed = _account_changed(previous, who)
    kind: OutcomeKind = "connected" if previous is None else "reconnected"
    log.info("grant_connected", user_id=record.user_id, cause=kind, account_changed=changed)
    return base.but(
        kind,
        google_email=who.email,
        previous_email=previous.google_email if changed and previous else None,
        account_changed=changed,
    )


def _refusal(
    record: connection_repository.OAuthState, tokens: TokenResponse, granted: tuple[str, ...], base: Outcome
) -> Outcome | None:
    """Why these tokens cannot become a grant (a calendar scope unticked, no refresh token), or None."""
    missing = tuple(s for s in REQUIRED_SCOPES if s not in granted)
    if missing:
        log.info("connect_missing_scopes", user_id=record.user_id, missing=list(missing))
        return base.but("missing_scopes", missing=missing)
    if not tokens.refresh_token:
        log.warning("connect_without_refresh_token", user_id=record.user_id)
        return base.but("google_error", error="no_refresh_token", status=502)
    return None


def _account_changed(previous: Grant | None, who: identity.Identity) -> bool:
    return previous is not None and previous.google_sub not in (None, who.sub)


async def _store(
    conn: asyncpg.Connection,
    user_id: str,
    tokens: TokenResponse,
    who: identity.Identity,
    granted: tuple[str, ...],
    *,
    cipher: TokenCipher,
    outbox: Outbox,
    settings: refresh_rules.RefreshSettings,
    now: datetime,
    jitter: float,
) -> Grant | None:
    """Save the grant in place and emit ``grant.connected``; returns the grant it replaced, if any."""
    await connection_repository.lock_user(conn, user_id)  # two tabs finishing at once must agree on grant_id
    previous = await connection_repository.get_grant_by_user(conn, user_id, for_update=True)
    grant_id = previous.grant_id if previous is not None else uuid.uuid4().hex
    # a reconnected grant in use keeps being refreshed ahead of expiry (the row keeps last_used_at)
    used = await connection_repository.last_used_at(conn, grant_id) if previous is not None else None
    connection = _connection(
        grant_id,
        user_id,
        tokens,
        who,
        granted,
        cipher=cipher,
        settings=settings,
        now=now,
        jitter=jitter,
        used=used,
    )
    await connection_repository.save_connection(conn, connection, now)
    changed = _account_changed(previous, who)
    if changed and previous is not None and previous.refresh_token_enc is not None:
        # Only a grant of another Google account is revoked: with include_granted_scopes, the old and
        # new tokens of the same account belong to one combined grant, and revoking either ends both.
        await connection_repository.add_revocation(
            conn,
            revocation_id=uuid.uuid4().hex,
            grant_id=grant_id,
            user_id=user_id,
            token_enc=previous.refresh_token_enc,
            reason="replaced",
            now=now,
        )
    event = grant_events.connected(connection, previous, account_changed=changed)
    await outbox.add(conn, event)
    return previous


def _connection(
    grant_id: str,
    user_id: str,
    tokens: TokenResponse,
    who: identity.Identity,
    granted: tuple[str, ...],
    *,
    cipher: TokenCipher,
    settings: refresh_rules.RefreshSettings,
    now: datetime,
    jitter: float,
    used: datetime | None,
) -> Connection:
    """The grant row to store: tokens sealed, first refresh scheduled (ahead of expiry if in use)."""
    assert tokens.refresh_token is not None
    access_expires_at = tokens.expires_at(now)
    return Connection(
        grant_id=grant_id,
        user_id=user_id,
        google_sub=who.sub,
        google_email=who.email,
        scopes=tuple(granted),
        refresh_token_enc=cipher.seal_field(grant_id, "refresh_token", tokens.refresh_token),
        access_token_enc=cipher.seal_field(grant_id, "access_token", tokens.access_token),
        access_expires_at=access_expires_at,
        refresh_token_expires_at=tokens.refresh_token_expires_at(now),
        token_hash=crypto.token_hash(tokens.refresh_token),
        token_prefix_hash=crypto.token_prefix_hash(tokens.refresh_token),
        next_refresh_at=refresh_rules.next_refresh_at(
            now=now, access_expires_at=access_expires_at, last_used_at=used, s=settings, u=jitter
        ),
    )

"""Acting on verified Security Event Tokens (google.md §11): dedupe on ``jti``, then revoke, suspend or
lift a suspension at once, in one transaction with the outbox events; the rest is logged and counted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import structlog

from services.auth import refresh_repository as repo
from services.auth import verdicts
from services.auth.crypto import token_prefix_hash
from services.auth.refresh import Refresher
from shared import messages as m

log = structlog.get_logger(__name__)

PREFIX = "https://schemas.openid.net/secevent/"


def short_name(event_type: str) -> str:
    return event_type.removeprefix(PREFIX).rpartition("/")[2]


async def handle(r: Refresher, claims: dict[str, Any]) -> bool:
    """Act on a verified SET; False when its ``jti`` was seen before (no effect)."""
    events: dict[str, Any] = claims["events"]
    now = r.clock.now()
    async with r.pool.acquire() as conn, conn.transaction():
        if not await repo.record_jti(conn, claims["jti"], list(events), now):
            log.info("security_event_duplicate", jti=claims["jti"])
            return False
        for event_type, body in events.items():
            name = short_name(event_type)
            r.metrics.security_events.labels(name).inc()
            await _act(r, conn, name, body if isinstance(body, dict) else {}, now)
    return True


async def _act(
    r: Refresher, conn: asyncpg.Connection, name: str, body: dict[str, Any], now: datetime
) -> None:
    subject = body.get("subject") if isinstance(body.get("subject"), dict) else {}
    assert isinstance(subject, dict)
    if name in ("tokens-revoked", "token-revoked"):
        for g in await _grants(conn, subject):
            if g.grant.state != "disconnected":
                await verdicts.disconnect(r, conn, g, reason="revoked", detected_by="security_event", now=now)
    elif name == "account-disabled":
        await _suspend(r, conn, subject, body.get("reason"), now)
    elif name == "account-enabled":
        await _lift(r, conn, subject, now)
    else:  # sessions-revoked, account-credential-change-required, verification: nothing to hold
        log.info("security_event_noted", event_type=name, state=body.get("state"), reason=body.get("reason"))


async def _grants(conn: asyncpg.Connection, subject: dict[str, Any]) -> list[repo.RefreshGrant]:
    kind = subject.get("subject_type")
    if kind in ("iss-sub", "id_token_claims") and isinstance(subject.get("sub"), str):
        return await repo.grants_by_sub(conn, subject["sub"])
    token = subject.get("token")
    if kind == "oauth_token" and isinstance(token, str):
        alg = subject.get("token_identifier_alg")
        if alg == "hash_base64_sha512_sha512":
            return await repo.grants_by_token(conn, token_hash=token, prefix_hash=None)
        if alg == "prefix":
            return await repo.grants_by_token(conn, token_hash=None, prefix_hash=token_prefix_hash(token))
    log.warning("security_event_subject_unknown", subject_type=kind)
    return []


async def _suspend(
    r: Refresher, conn: asyncpg.Connection, subject: dict[str, Any], reason: Any, now: datetime
) -> None:
    if reason == "bulk-account":  # Google suggests analysing activity, not blocking
        log.warning("security_event_bulk_account", subject_type=subject.get("subject_type"))
        return
    hijacking = reason == "hijacking"
    for g in await _grants(conn, subject):
        grant = g.grant
        if grant.state != "connected":
            continue
        await repo.set_state(
            conn,
            grant.grant_id,
            state="suspended",
            reason="security_block",
            now=now,
            hijacked=hijacking or grant.hijacked,
        )
        await r.emit(
            conn,
            m.GrantSuspended(
                user_id=grant.user_id,
                grant_id=grant.grant_id,
                hijacking=hijacking,
                since=now,
                google_email=None if hijacking else grant.mailbox,
            ),
        )
        log.warning("grant_suspended", grant_id=grant.grant_id, hijacking=hijacking)


async def _lift(r: Refresher, conn: asyncpg.Connection, subject: dict[str, Any], now: datetime) -> None:
    for g in await _grants(conn, subject):
        grant = g.grant
        if grant.state != "suspended":
            continue
        await repo.set_state(conn, grant.grant_id, state="connected", reason=None, now=now, hijacked=False)
        await r.emit(
            conn,
            m.GrantConnected(
                user_id=grant.user_id,
                grant_id=grant.grant_id,
                cause="suspension_lifted",
                google_sub=grant.google_sub or "",
                google_email=grant.google_email,
                scopes=grant.scopes,
            ),
        )
        log.info("grant_suspension_lifted", grant_id=grant.grant_id)

"""Act on a verified Security Event Token (docs/google.md §11; entrypoints/risc_receiver.py verifies it):
dedupe on ``jti``, then revoke, suspend or lift a suspension at once, in one transaction with the outbox
events; a verification event's ``state`` is kept for ``calsync risc check``; the rest is logged and
counted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import structlog

from services.auth.adapters import refresh_repository
from services.auth.adapters.crypto import token_prefix_hash
from services.auth.domain import grant_events
from services.auth.domain.model import RefreshGrant
from services.auth.domain.security_event_types import short_name
from services.auth.usecases.deps import RefreshDeps
from shared.db import transaction

log = structlog.get_logger(__name__)


async def handle(deps: RefreshDeps, claims: dict[str, Any]) -> bool:
    """Act on a verified SET; False when its ``jti`` was seen before (no effect)."""
    events: dict[str, Any] = claims["events"]
    now = deps.clock.now()
    async with transaction(deps.pool) as conn:
        if not await refresh_repository.record_jti(conn, claims["jti"], list(events), now):
            log.info("security_event_duplicate", jti=claims["jti"])
            return False
        for event_type, body in events.items():
            name = short_name(event_type)
            deps.metrics.security_events.labels(name).inc()
            body = body if isinstance(body, dict) else {}
            if name == "verification" and isinstance(body.get("state"), str):
                await refresh_repository.note_verification(conn, claims["jti"], body["state"])
            await _act(deps, conn, name, body, now)
    return True


async def _act(
    deps: RefreshDeps, conn: asyncpg.Connection, name: str, body: dict[str, Any], now: datetime
) -> None:
    subject = body.get("subject") if isinstance(body.get("subject"), dict) else {}
    assert isinstance(subject, dict)
    if name in ("tokens-revoked", "token-revoked"):
        for grant in await _grants(conn, subject):
            if grant.grant.state != "disconnected":
                await _disconnect(deps, conn, grant, now)
    elif name == "account-disabled":
        await _suspend(deps, conn, subject, body.get("reason"), now)
    elif name == "account-enabled":
        await _lift(deps, conn, subject, now)
    else:  # sessions-revoked, account-credential-change-required, verification: nothing to hold
        log.info("security_event_noted", event_type=name, state=body.get("state"), reason=body.get("reason"))


async def _grants(conn: asyncpg.Connection, subject: dict[str, Any]) -> list[RefreshGrant]:
    kind = subject.get("subject_type")
    if kind in ("iss-sub", "id_token_claims") and isinstance(subject.get("sub"), str):
        return await refresh_repository.grants_by_sub(conn, subject["sub"])
    token = subject.get("token")
    if kind == "oauth_token" and isinstance(token, str):
        alg = subject.get("token_identifier_alg")
        if alg == "hash_base64_sha512_sha512":
            return await refresh_repository.grants_by_token(conn, token_hash=token, prefix_hash=None)
        if alg == "prefix":
            return await refresh_repository.grants_by_token(
                conn, token_hash=None, prefix_hash=token_prefix_hash(token)
            )
    log.warning("security_event_subject_unknown", subject_type=kind)
    return []


async def _suspend(
    deps: RefreshDeps, conn: asyncpg.Connection, subject: dict[str, Any], reason: Any, now: datetime
) -> None:
    if reason == "bulk-account":  # Google suggests analysing activity, not blocking
        log.warning("security_event_bulk_account", subject_type=subject.get("subject_type"))
        return
    hijacking = reason == "hijacking"
    for found in await _grants(conn, subject):
        grant = found.grant
        if grant.state != "connected":
            continue
        await refresh_repository.set_state(
            conn,
            grant.grant_id,
            state="suspended",
            reason="security_block",
            now=now,
            hijacked=hijacking or grant.hijacked,
        )
        await deps.outbox.add(conn, grant_events.suspended(grant, hijacking=hijacking, since=now))
        log.warning("grant_suspended", grant_id=grant.grant_id, hijacking=hijacking)


async def _lift(deps: RefreshDeps, conn: asyncpg.Connection, subject: dict[str, Any], now: datetime) -> None:
    for found in await _grants(conn, subject):
        grant = found.grant
        if grant.state != "suspended":
            continue
        await refresh_repository.set_state(
            conn, grant.grant_id, state="connected", reason=None, now=now, hijacked=False
        )
        await deps.outbox.add(conn, grant_events.suspension_lifted(grant))
        log.info("grant_suspension_lifted", grant_id=grant.grant_id)


async def _disconnect(
    deps: RefreshDeps, conn: asyncpg.Connection, found: RefreshGrant, now: datetime
) -> None:
    """Google revoked the grant's tokens: disconnected at once, announced in the same transaction."""
    grant = found.grant
    await refresh_repository.disconnect(
        conn, grant.grant_id, reason="revoked", detected_by="security_event", now=now
    )
    event = grant_events.disconnected(grant, reason="revoked", detected_by="security_event", since=now)
    await deps.outbox.add(conn, event)
    log.info("grant_disconnected", grant_id=grant.grant_id, reason="revoked", detected_by="security_event")

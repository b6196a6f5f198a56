"""The user's connection, for the platform and the settings page: a settings link, the status, delete
on request, and forgetting a deleted user. Connecting (the OAuth round trip) is ``connect.py``.
Each use case runs in one transaction with the outbox events it emits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog

from services.auth.adapters import connection_repository, links
from services.auth.config import AuthConfig
from services.auth.domain import grant_events
from services.auth.domain.model import Grant
from services.auth.usecases.deps import ConnectionDeps
from shared.clock import Clock
from shared.db import transaction
from shared.outbox import Outbox

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime


def settings_link(
    config: AuthConfig,
    *,
    user_id: str,
    locale: str,
    ttl: int | None,
    now: datetime,
    display_name: str | None = None,
) -> Link:
    """A fresh signed link to the user's settings page (naming the platform account it acts for)."""
    seconds = config.link_ttl if ttl is None else ttl
    expires_at = now + timedelta(seconds=seconds)
    token = links.mint(
        config.link_secret,
        links.SETTINGS,
        user_id=user_id,
        locale=locale,
        expires_at=expires_at,
        display_name=display_name,
    )
    log.info("settings_link_minted", user_id=user_id, locale=locale, ttl_seconds=seconds)
    return Link(url=config.common.public_url("/settings?token=" + token), expires_at=expires_at)


@dataclass(frozen=True)
class Status:
    """What the platform and the settings page show about a user's connection."""

    state: str  # none | connected | disconnected | suspended
    reason: str | None = None
    since: datetime | None = None
    google_email: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "state": self.state,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
            "google_email": self.google_email,
        }


async def status(conn: asyncpg.Connection, user_id: str) -> Status:
    grant = await connection_repository.get_grant_by_user(conn, user_id)
    if grant is None:
        return Status("none")
    return Status(grant.state, grant.reason, grant.state_since, grant.google_email)


async def listing(
    conn: asyncpg.Connection, *, state: str | None, reason: str | None, limit: int
) -> list[dict[str, str | None]]:
    """Connections by state and reason (the operator CLI's ``calsync connections``)."""
    rows = await connection_repository.list_connections(conn, state=state, reason=reason, limit=limit)
    return [
        {
            "user_id": row["user_id"],
            **Status(row["state"], row["reason"], row["state_since"], row["google_email"]).as_json(),
        }
        for row in rows
    ]


async def delete_connection(deps: ConnectionDeps, user_id: str) -> str | None:
    """Delete the user's grant (the user asked): token queued for revocation, ``grant.deleted`` emitted.

    Returns the deleted grant's id, or None if there was nothing to delete."""
    async with transaction(deps.pool) as conn:
        grant = await _drop_grant(
            conn, user_id, reason="deleted", keep_user=True, clock=deps.clock, hold=deps.config.revoke_hold
        )
        if grant is None:
            return None
        await deps.outbox.add(conn, grant_events.deleted(grant, cause="user_request"))
    log.info("connection_deleted", user_id=user_id, grant_id=grant.grant_id)
    return grant.grant_id


async def forget_user(
    conn: asyncpg.Connection, user_id: str, *, outbox: Outbox, clock: Clock, hold: float = 0.0
) -> None:
    """The platform deleted the user: every row about them goes; a live token is still revoked
    (after ``hold`` seconds at the latest, see ``_drop_grant``).

    Called by the ``platform.user.deleted`` consumer inside its transaction (``shared.db.transaction``)."""
    grant = await _drop_grant(conn, user_id, reason="user_deleted", keep_user=False, clock=clock, hold=hold)
    await connection_repository.forget_user(conn, user_id)
    if grant is not None:
        await outbox.add(conn, grant_events.deleted(grant, cause="user_deleted"))
    log.info("user_forgotten", user_id=user_id, had_grant=grant is not None)


async def _drop_grant(
    conn: asyncpg.Connection, user_id: str, *, reason: str, keep_user: bool, clock: Clock, hold: float
) -> Grant | None:
    """Delete the user's grant and queue its token's revocation, held ``hold`` seconds (0: due now) so
    sync can still stop the grant's watch channels with it; ``channels.stopped`` ends the hold early
    (usecases/revoke_tokens.py)."""
    grant = await connection_repository.get_grant_by_user(conn, user_id, for_update=True)
    if grant is None:
        return None
    if grant.refresh_token_enc is not None:
        now = clock.now()
        digest = connection_repository.user_digest(user_id)
        held = connection_repository.Hold(now + timedelta(seconds=hold), digest) if hold > 0 else None
        await connection_repository.add_revocation(
            conn,
            revocation_id=uuid.uuid4().hex,
            grant_id=grant.grant_id,
            user_id=user_id if keep_user else None,
            token_enc=grant.refresh_token_enc,
            reason=reason,
            now=now,
            hold=held,
        )
    await connection_repository.delete_grant(conn, grant.grant_id)
    return grant

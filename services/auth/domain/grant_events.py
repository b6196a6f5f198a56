"""Every ``grant.*`` message auth publishes is built here, from a grant and what happened to it.

The use cases only choose which event and save it to the outbox with the state change."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from services.auth.domain.model import Connection, Grant
from shared import messages as m


def connected(connection: Connection, previous: Grant | None, *, account_changed: bool) -> m.GrantConnected:
    """A consent completed: a first connection, or a reconnect replacing ``previous`` in place."""
    return m.GrantConnected(
        user_id=connection.user_id,
        grant_id=connection.grant_id,
        cause="connected" if previous is None else "reconnected",
        google_sub=connection.google_sub,
        google_email=connection.google_email,
        account_changed=account_changed,
        previous_google_email=previous.google_email if account_changed and previous is not None else None,
        scopes=connection.scopes,
    )


def recovered(grant: Grant) -> m.GrantConnected:
    """A grant the breaker held as dead refreshed fine after all."""
    return _back(grant, cause="recovered", google_email=grant.mailbox)


def suspension_lifted(grant: Grant) -> m.GrantConnected:
    """Google re-enabled the account of a suspended grant (the hijacked flag is cleared with it)."""
    return _back(grant, cause="suspension_lifted", google_email=grant.google_email)


def _back(
    grant: Grant, *, cause: Literal["recovered", "suspension_lifted"], google_email: str | None
) -> m.GrantConnected:
    """The same grant usable again without a new consent."""
    return m.GrantConnected(
        user_id=grant.user_id,
        grant_id=grant.grant_id,
        cause=cause,
        google_sub=grant.google_sub or "",
        google_email=google_email,
        scopes=grant.scopes,
    )


def disconnected(grant: Grant, *, reason: str, detected_by: str, since: datetime) -> m.GrantDisconnected:
    """The grant is over (reason: a ``shared.messages.DisconnectReason``); the user must reconnect."""
    return m.GrantDisconnected(
        user_id=grant.user_id,
        grant_id=grant.grant_id,
        reason=reason,  # type: ignore[arg-type]
        since=since,
        google_email=grant.mailbox,
        detected_by=detected_by,  # type: ignore[arg-type]
    )


def suspended(grant: Grant, *, hijacking: bool, since: datetime) -> m.GrantSuspended:
    """Google disabled the account for now; a hijacked account's email must not be used."""
    return m.GrantSuspended(
        user_id=grant.user_id,
        grant_id=grant.grant_id,
        hijacking=hijacking,
        since=since,
        google_email=None if hijacking else grant.mailbox,
    )


def expiring(grant: Grant, *, expires_at: datetime) -> m.GrantExpiring:
    """A time-limited grant ends soon."""
    return m.GrantExpiring(
        user_id=grant.user_id, grant_id=grant.grant_id, expires_at=expires_at, google_email=grant.mailbox
    )


def deleted(grant: Grant, *, cause: str) -> m.GrantDeleted:
    """The connection was deleted on purpose: ``user_request`` or ``user_deleted``."""
    return m.GrantDeleted(user_id=grant.user_id, grant_id=grant.grant_id, cause=cause)  # type: ignore[arg-type]

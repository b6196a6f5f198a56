"""The notifier's pure rules: episodes, who is told, the reminder cadence, retries, signed stop links.

Episode: one subject's problem from the moment it began until it is resolved. A subject is one grant
(``grant:<grant_id>``) or one user's calendar choice (``calendar:<user_id>``). An episode opens on
``grant.disconnected`` or ``grant.suspended`` (grant) or ``calendar.problem`` (calendar), with the
reason of the first report; further reports while it is open (redeliveries, a RISC event after a
failed refresh, another instance) belong to the same episode and send nothing. It ends on
``grant.connected`` or ``grant.deleted`` (grant), ``calendar.selected`` (calendar), or user deletion;
a report that began before the subject was last known to be fine is stale and opens nothing.
Per episode: one alert, then reminders on a cadence measured from when the alert was sent (default
day 1, 3 and 7), until the episode ends or the user follows the stop link in any of its emails.

Pure: no I/O and no clock reads; time comes in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import messages as m

GRANT_REASONS = ("revoked", "account_deleted", "admin_policy", "security_block", "access_expired")
CALENDAR_REASONS = ("calendar_unavailable", "needs_consent")
EPISODE_REASONS = GRANT_REASONS + CALENDAR_REASONS
OPERATOR_KINDS = ("app_config", "circuit_open")


def grant_subject(grant_id: str) -> str:
    return f"grant:{grant_id}"


def calendar_subject(user_id: str) -> str:
    return f"calendar:{user_id}"


@dataclass(frozen=True)
class Opening:
    """A problem report that opens an episode unless one is open (or the report is stale)."""

    subject: str
    user_id: str
    reason: str
    began_at: datetime
    google_email: str | None
    hijacked: bool


@dataclass(frozen=True)
class Ending:
    """A report that ends the subject's open episode; ``confirm`` asks for a "connected again" email."""

    subject: str
    user_id: str
    cause: str
    settled_at: datetime
    confirm: bool
    google_email: str | None = None


def opening_for(event: m.Message) -> Opening | None:
    """The episode a problem report would open, or None for any other message."""
    if isinstance(event, m.GrantDisconnected):
        return Opening(
            grant_subject(event.grant_id), event.user_id, event.reason, event.since, event.google_email, False
        )
    if isinstance(event, m.GrantSuspended):
        email = None if event.hijacking else event.google_email
        return Opening(
            grant_subject(event.grant_id), event.user_id, event.reason, event.since, email, event.hijacking
        )
    if isinstance(event, m.CalendarProblem):
        return Opening(
            calendar_subject(event.user_id), event.user_id, event.problem, event.since, None, False
        )
    return None


def ending_for(event: m.Message) -> Ending | None:
    """The episode end a report means, or None. Only a reconnect is worth a confirmation email."""
    if isinstance(event, m.GrantConnected):
        return Ending(
            grant_subject(event.grant_id),
            event.user_id,
            event.cause,
            event.occurred_at,
            confirm=True,
            google_email=event.google_email,
        )
    if isinstance(event, m.GrantDeleted):
        return Ending(
            grant_subject(event.grant_id), event.user_id, f"deleted_{event.cause}", event.occurred_at, False
        )
    if isinstance(event, m.CalendarSelected):
        return Ending(
            calendar_subject(event.user_id), event.user_id, "calendar_selected", event.occurred_at, False
        )
    return None


def is_stale(began_at: datetime, settled_at: datetime | None) -> bool:
    """A problem that began before the subject was last known to be fine has already been resolved."""
    return settled_at is not None and began_at < settled_at


def reminder_due(
    alert_sent_at: datetime, reminders_sent: int, offsets: tuple[timedelta, ...]
) -> datetime | None:
    """When the next reminder is due (offsets count from the alert), or None when all were sent."""
    if reminders_sent >= len(offsets):
        return None
    return alert_sent_at + offsets[reminders_sent]

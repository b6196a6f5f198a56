"""Pure rules of sync: which appointment change wins, and when a user's writes must wait."""

from __future__ import annotations

from shared import messages as m

AppointmentChange = m.AppointmentCreated | m.AppointmentUpdated | m.AppointmentCancelled


def supersedes(incoming_version: int, stored_version: int | None) -> bool:
    """A change applies only if it is newer than what we hold (messages may arrive out of order)."""
    return stored_version is None or incoming_version > stored_version


def grant_state(event: m.Message) -> tuple[str, str | None] | None:
    """The grant state sync records for an auth event, or None when it does not change writability."""
    if isinstance(event, m.GrantConnected):
        return "connected", None
    if isinstance(event, m.GrantDisconnected | m.GrantSuspended):
        return "disconnected", event.reason
    if isinstance(event, m.GrantDeleted):
        return "deleted", event.cause
    return None

"""What the platform may see of sync's work: one appointment's sync state, one user's sync health
(with the calendar's watch channel and inbound sync)."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.sync.adapters import repository

WAITING = {
    None: "no Google connection yet",
    "disconnected": "the Google connection is disconnected; waiting for the user to reconnect",
    "deleted": "the Google connection was deleted",
    "user_deleted": "the user was deleted",
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def why_pending(row: asyncpg.Record) -> str:
    """Why a pending appointment is not in Google yet, most fundamental reason first."""
    grant = row["grant_state"]
    if grant != "connected":
        return WAITING.get(grant, f"grant {grant}")
    if row["calendar_problem"] is not None:
        return f"the calendar cannot be written ({row['calendar_problem']})"
    if row["user_calendar"] is None:
        return "waiting for the destination calendar"
    if row["wait_reason"] is not None:
        return f"{row['wait_reason']}: {row['last_error']}; next try at {_iso(row['due_at'])}"
    return "queued for writing"


async def appointment_state(pool: asyncpg.Pool, appointment_id: str) -> dict[str, Any] | None:
    row = await repository.appointment(pool, appointment_id)
    if row is None:
        return None
    state: dict[str, Any] = {
        "appointment_id": appointment_id,
        "user_id": row["owner_user_id"],
        "state": row["state"],
        "version": row["version"],
        "cancelled": row["cancelled"],
        "synced_version": row["synced_version"],
        "synced_at": _iso(row["synced_at"]),
        "event_id": row["event_id"],
        "calendar_id": row["calendar_id"],
        "note": row["note"],
    }
    if row["state"] == "pending":
        state["why"] = why_pending(row)
    elif row["state"] in ("failed", "skipped"):
        state["why"] = row["last_error"] if row["state"] == "failed" else row["note"]
    return state


async def user_health(pool: asyncpg.Pool, user_id: str) -> dict[str, Any]:
    user, counts = await repository.user_health(pool, user_id)
    channel, inbound = await repository.user_inbound(pool, user_id)
    problem = None
    if user is not None and user["calendar_problem"] is not None:
        problem = {
            "problem": user["calendar_problem"],
            "calendar_id": user["problem_calendar"],
            "since": _iso(user["problem_since"]),
        }
    return {
        "user_id": user_id,
        "grant_state": user["state"] if user is not None else None,
        "calendar_id": user["calendar_id"] if user is not None else None,
        "pending": counts["pending"],
        "oldest_pending_since": _iso(counts["oldest_pending"]),
        "failed": counts["failed"],
        "last_success_at": _iso(user["last_success_at"]) if user is not None else None,
        "last_failure_at": _iso(user["last_failure_at"]) if user is not None else None,
        "last_failure": user["last_failure"] if user is not None else None,
        "calendar_problem": problem,
        "channel": _channel(channel),
        "inbound": _inbound(inbound),
    }


def _channel(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "calendar_id": row["calendar_id"],
        "state": row["state"],
        "expires_at": _iso(row["expires_at"]),
        "live_at": _iso(row["live_at"]),
    }


def _inbound(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "calendar_id": row["calendar_id"],
        "state": row["state"],
        "due_at": _iso(row["due_at"]),
        "requested_by": row["requested_by"],
        "last_synced_at": _iso(row["last_synced_at"]),
    }

"""The calendars a user may choose as destination: Google's calendarList entries the user may write
to (``minAccessRole=writer``), with the one sync writes to now marked (the platform's picker)."""

from __future__ import annotations

from typing import Any

import structlog

from services.sync.adapters import user_state
from services.sync.usecases.authorised import NoToken, authorised
from services.sync.usecases.calendars import ChoiceDeps
from shared.google.calendar import GoogleApiError, GoogleTransportError, classify

log = structlog.get_logger(__name__)


class ListRefused(Exception):
    """The list cannot be had; ``code`` names why (for the HTTP answer)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


async def writable(deps: ChoiceDeps, user_id: str) -> dict[str, Any]:
    """``{"calendar_id", "calendars": [{"id", "summary", "primary", "access_role", "chosen"}]}``:
    primary first, then by name; ``calendar_id`` is None until the destination is known."""
    async with deps.pool.acquire() as conn:
        state = await user_state.destination(conn, user_id)
    if state is None or state["state"] != "connected":
        raise ListRefused("not_connected", "the user has no working Google connection")
    entries = await _entries(deps, user_id)
    chosen = state["calendar_id"]
    calendars = [_entry(item, chosen) for item in entries if isinstance(item.get("id"), str)]
    calendars.sort(key=lambda entry: (not entry["primary"], str(entry["summary"]).casefold()))
    return {"calendar_id": chosen, "calendars": calendars}


def _entry(item: dict[str, Any], chosen: str | None) -> dict[str, Any]:
    primary = item.get("primary") is True
    summary = item.get("summaryOverride") or item.get("summary") or item["id"]
    is_chosen = item["id"] == chosen if chosen is not None else primary  # the default is primary
    return {
        "id": item["id"],
        "summary": summary,
        "primary": primary,
        "access_role": item.get("accessRole"),
        "chosen": is_chosen,
    }


async def _entries(deps: ChoiceDeps, user_id: str) -> list[dict[str, Any]]:
    try:
        return await authorised(deps.tokens, user_id, deps.google.writable_calendars)
    except NoToken as exc:
        raise ListRefused("not_connected", f"no Google access ({exc.status})") from None
    except (GoogleApiError, GoogleTransportError) as exc:
        kind = classify(exc)
        log.warning("calendar_list_failed", user_id=user_id, kind=kind)
        if kind == "auth":
            raise ListRefused("not_connected", "Google refused the user's access") from None
        if kind == "insufficient_permissions":
            raise ListRefused("needs_consent", "the user has not allowed reading the calendar list") from None
        raise ListRefused("google_unavailable", f"Google could not list the calendars ({kind})") from None

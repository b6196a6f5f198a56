"""What the settings page says about a user's sync health (sync's ``sync-health`` answer, see
docs/sync.md): the most fundamental reason appointments wait first, as text keys with facts for
``entrypoints/calendar_texts``. Pure: the caller passes the moment to measure "ago" from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Sentence:
    key: str  # a key of calendar_texts.TEXTS, without the count suffix
    count: int | None = None  # picks the ".one" / ".many" form and fills {count}
    facts: tuple[tuple[str, str], ...] = ()


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def waiting(health: Mapping[str, Any], auth_state: str) -> Sentence:
    """The headline: everything copied, or why the pending appointments wait."""
    pending = int(health.get("pending") or 0)
    problem = (health.get("calendar_problem") or {}).get("problem")
    if auth_state == "suspended":
        return Sentence("health.suspended", pending)
    if auth_state != "connected" or health.get("grant_state") not in ("connected", None):
        return Sentence("health.reconnect", pending)
    if problem == "calendar_unavailable":
        return Sentence("health.calendar_unavailable", pending)
    if problem == "needs_consent":
        return Sentence("health.needs_consent", pending)
    if health.get("grant_state") is None or health.get("calendar_id") is None:
        return Sentence("health.setting_up", pending)
    if pending == 0:
        return Sentence("health.all_copied")
    failure, success = _moment(health.get("last_failure_at")), _moment(health.get("last_success_at"))
    if failure is not None and (success is None or failure > success):
        return Sentence("health.retrying", pending)
    return Sentence("health.copying", pending)


def details(health: Mapping[str, Any], now: datetime) -> list[Sentence]:
    """Smaller print: refused appointments and when the last one was copied."""
    sentences = []
    failed = int(health.get("failed") or 0)
    if failed:
        sentences.append(Sentence("health.refused", failed))
    success = _moment(health.get("last_success_at"))
    if success is not None:
        sentences.append(ago("health.last_copied", success, now))
    return sentences


def ago(key: str, moment: datetime, now: datetime) -> Sentence:
    """``key`` with ``.now``, ``.minutes``, ``.hours`` or ``.days`` and the count."""
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 60:
        return Sentence(key + ".now")
    for unit, size, limit in (("minutes", 60, 60), ("hours", 3600, 48)):
        if seconds < size * limit:
            return Sentence(f"{key}.{unit}", int(seconds // size))
    return Sentence(key + ".days", int(seconds // 86400))

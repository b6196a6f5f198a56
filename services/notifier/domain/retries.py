"""When a temporarily failed email is tried again, and when the delivery worker gives up.

Pure: ``now`` comes in as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryDecision:
    give_up: bool
    due_at: datetime | None


def after_temporary_failure(
    *, attempts: int, max_attempts: int, delays: tuple[float, ...], now: datetime
) -> RetryDecision:
    """Back off (growing delays, then the last one again) until ``max_attempts`` were made."""
    if attempts >= max_attempts:
        return RetryDecision(True, None)
    delay = delays[min(attempts, len(delays)) - 1] if delays else 0.0
    return RetryDecision(False, now + timedelta(seconds=delay))

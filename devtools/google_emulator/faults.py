"""Fault plan of the emulator (part of its state): injected error replies, rate limits, latency
and dropped connections by path prefix, and lost pushes. The request middleware and the pusher
consult it; pure bookkeeping, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

CALENDAR_PREFIX = "/calendar/v3/"


@dataclass
class Fault:
    """An injected reply for requests under `prefix` (`remaining` None = until cleared)."""

    prefix: str
    status: int
    remaining: int | None
    body: Any = None
    reason: str | None = None
    skip: int = 0  # requests let through before this fault starts answering


@dataclass
class RandomFaults:
    """A share of the requests under `prefix` fails, each drawn from a seeded generator: answered
    with one of `statuses` ("timeout" holds the reply for `hang_seconds`, then drops the connection)."""

    prefix: str
    share: float
    statuses: tuple[int | str, ...]
    hang_seconds: float
    draw: random.Random
    injected: dict[str, int]


class FaultPlan:
    """What the emulator does wrong on purpose, and how slowly it answers."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.latency: dict[str, tuple[float, float]] = {}
        self.drops: dict[str, int] = {}
        self.push_drops_next, self.push_drops_all = 0, False
        self.random: RandomFaults | None = None

    def fail_next(
        self,
        path_prefix: str,
        status: int,
        reason: str | None = None,
        *,
        count: int = 1,
        after: int = 0,
        body: Any = None,
    ) -> None:
        """Answer `count` requests under `path_prefix` (after letting `after` through) with
        `status` and Google's body for it (`reason` picks errors[0].reason), or `body`."""
        self.faults.append(Fault(path_prefix, status, count, body, reason, skip=after))

    def fail_for(self, path_prefix: str, status: int, *, body: Any = None, reason: str | None = None) -> None:
        """Answer every request under `path_prefix` with `status` until `clear_faults()`."""
        self.faults.append(Fault(path_prefix, status, None, body, reason))

    def rate_limit(
        self, count: int, *, path_prefix: str = CALENDAR_PREFIX, status: int = 403, after: int = 0
    ) -> None:
        """The next `count` calls (after `after`) get Google's rateLimitExceeded (403 or 429)."""
        self.fail_next(path_prefix, status, "rateLimitExceeded", count=count, after=after)

    def set_latency(self, path_prefix: str, seconds: float, *, jitter: float = 0.0) -> None:
        """Delay every response under `path_prefix` by `seconds` plus up to `jitter` more (uniform);
        0 removes the delay. Delayed requests overlap, as network round trips do."""
        if seconds <= 0 and jitter <= 0:
            self.latency.pop(path_prefix, None)
        else:
            self.latency[path_prefix] = (max(0.0, seconds), max(0.0, jitter))

    def set_calendar_latency(self, min_ms: float, max_ms: float | None = None) -> None:
        """Hold every Calendar response between `min_ms` and `max_ms` (default `min_ms`)."""
        top = min_ms if max_ms is None else max(min_ms, max_ms)
        self.set_latency(CALENDAR_PREFIX, min_ms / 1000, jitter=(top - min_ms) / 1000)

    def drop_connections(self, path_prefix: str, count: int = 1) -> None:
        """Close the socket without any response for the next `count` matching requests."""
        self.drops[path_prefix] = self.drops.get(path_prefix, 0) + count

    def fail_share(
        self,
        share: float,
        statuses: list[int | str] | None = None,
        *,
        path_prefix: str = CALENDAR_PREFIX,
        hang_seconds: float = 15.0,
        seed: int = 0,
    ) -> None:
        """Fail a `share` (0..1) of the requests under `path_prefix` until `clear_faults()`: each
        failing one gets a status from `statuses` (default 500, 503, 429), or with "timeout" is held
        `hang_seconds` and dropped unanswered. Draws come from a generator seeded with `seed`."""
        if not 0 <= share <= 1:
            raise ValueError(f"share must be between 0 and 1, got {share}")
        chosen = tuple(statuses or (500, 503, 429))
        for status in chosen:
            if status != "timeout" and not (isinstance(status, int) and 400 <= status <= 599):
                raise ValueError(f"a status is 400-599 or 'timeout', got {status!r}")
        self.random = RandomFaults(path_prefix, share, chosen, hang_seconds, random.Random(seed), {})

    def take_random(self, path: str) -> int | str | None:
        """The status (or "timeout") a random fault answers this request with, if it hits."""
        plan = self.random
        if plan is None or not path.startswith(plan.prefix) or plan.draw.random() >= plan.share:
            return None
        status = plan.draw.choice(plan.statuses)
        plan.injected[str(status)] = plan.injected.get(str(status), 0) + 1
        return status

    def injected(self) -> dict[str, int]:
        """How many requests the random fault answered, by status ("timeout" for held ones)."""
        return dict(self.random.injected) if self.random is not None else {}

    def clear_faults(self) -> None:
        """Remove every injected failure, latency and connection drop."""
        self.random = None
        self.faults.clear()
        self.latency.clear()
        self.drops.clear()

    def drop_next_push(self, count: int = 1) -> None:
        """Lose the next `count` push notifications (Google says they are not 100% reliable)."""
        self.push_drops_next += count

    def drop_pushes(self, enabled: bool = True) -> None:
        """Lose every push notification until called with False."""
        self.push_drops_all = enabled

    def take_push_drop(self) -> bool:
        """Whether the push about to go out is lost (uses up one `drop_next_push`)."""
        if self.push_drops_all or self.push_drops_next > 0:
            self.push_drops_next = max(0, self.push_drops_next - 1)
            return True
        return False

    def take_fault(self, path: str) -> Fault | None:
        """The fault answering this request, if any (counted faults are used up)."""
        for fault in self.faults:
            if not path.startswith(fault.prefix):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    def take_drop(self, path: str) -> bool:
        for prefix, left in self.drops.items():
            if path.startswith(prefix) and left > 0:
                self.drops[prefix] = left - 1
                return True
        return False

    def response_delay(self, path: str) -> float:
        """Seconds to hold the next response to `path`: the longest matching latency plus a fresh
        draw of its jitter."""
        matches = [spec for prefix, spec in self.latency.items() if path.startswith(prefix)]
        if not matches:
            return 0.0
        seconds, jitter = max(matches)
        return seconds + (random.uniform(0.0, jitter) if jitter else 0.0)

"""Fault plan of the emulator (state): injected error replies, rate limits, latency and dropped
connections by path prefix. The request middleware consults it; pure bookkeeping, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    """An injected reply for requests under `prefix` (`remaining` None = until cleared)."""

    prefix: str
    status: int
    remaining: int | None
    body: Any = None
    reason: str | None = None
    skip: int = 0  # requests let through before this fault starts answering


class FaultPlan:
    """What the emulator does wrong on purpose, and how slowly it answers."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.latency: dict[str, tuple[float, float]] = {}
        self.drops: dict[str, int] = {}

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def set_latency(self, path_prefix: str, seconds: float, jitter: float) -> None:
        if seconds <= 0 and jitter <= 0:
            self.latency.pop(path_prefix, None)
        else:
            self.latency[path_prefix] = (max(0.0, seconds), max(0.0, jitter))

    def add_drops(self, path_prefix: str, count: int) -> None:
        self.drops[path_prefix] = self.drops.get(path_prefix, 0) + count

    def clear(self) -> None:
        self.faults.clear()
        self.latency.clear()
        self.drops.clear()

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

    def delay_for(self, path: str) -> float:
        """Seconds to hold a response to `path`: the longest matching latency plus its jitter."""
        matches = [spec for prefix, spec in self.latency.items() if path.startswith(prefix)]
        if not matches:
            return 0.0
        seconds, jitter = max(matches)
        return seconds + (random.uniform(0.0, jitter) if jitter else 0.0)

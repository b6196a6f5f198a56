"""Google event ids sync chooses before the first insert (docs/google.md §8): deterministic, so a retried
insert after a crash uses the same id and can never create a second event."""

from __future__ import annotations

import base64
import hashlib
import re

VALID = re.compile(r"^[a-v0-9]{5,1024}$")
PREFIX = "cs"  # marks ids minted by calsync; still base32hex


def event_id(appointment_id: str, calendar_id: str, generation: int) -> str:
    """The id of ``appointment_id``'s event in ``calendar_id``; a new ``generation`` gives a new id
    (needed after the user deleted the event in Google: a deleted id stays taken)."""
    if generation < 0:
        raise ValueError("generation must not be negative")
    seed = f"{appointment_id}\x00{calendar_id}\x00{generation}".encode()
    digest = hashlib.sha256(seed).digest()
    encoded = base64.b32hexencode(digest).decode().rstrip("=").lower()
    return PREFIX + encoded


def is_valid(candidate: str) -> bool:
    """Whether Google accepts ``candidate`` as a client-chosen event id."""
    return bool(VALID.match(candidate))

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


PROBE_PREFIX = "csprobe"  # a connection test's probe event (a uuid4 hex after it): never an appointment's
PROBE_LENGTH = len(PROBE_PREFIX) + 32


def probe_id(random_hex: str) -> str:
    """A fresh id for a connection test's probe event (``random_hex``: 32 hex digits, e.g. uuid4().hex);
    a new one every time, since a deleted id stays taken at Google."""
    candidate = PROBE_PREFIX + random_hex.lower()
    if len(candidate) != PROBE_LENGTH or not is_valid(candidate):
        raise ValueError("a probe id needs 32 hex digits")
    return candidate


def is_probe(event_id: str) -> bool:
    """Whether ``event_id`` is a connection test's probe (appointment ids are longer: cs + 52)."""
    return len(event_id) == PROBE_LENGTH and event_id.startswith(PROBE_PREFIX)

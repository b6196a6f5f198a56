"""Page and sync tokens of the emulated list methods (state): snapshot paging with pageToken,
nextSyncToken on the last page only (docs/google.md §7, §10); pure bookkeeping."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .records import now_ms


@dataclass
class Snapshot:
    """The full result of one list call, served page by page."""

    items: list[dict[str, Any]]
    offset: int
    page_size: int
    sync_token: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SyncMark:
    """What a sync token remembers: which list ("events" of a calendar, or a user's
    "calendarList"), up to which change, in which token generation."""

    kind: str
    owner: str
    seq: int
    generation: int


class PageTable:
    """Issued page tokens (snapshots) and sync tokens."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.sync_marks: dict[str, SyncMark] = {}

    def new_sync_token(self, mark: SyncMark) -> str:
        token = "C" + secrets.token_urlsafe(24)
        self.sync_marks[token] = mark
        return token

    def sync_mark(self, token: str) -> SyncMark | None:
        return self.sync_marks.get(token)

    def snapshot(self, token: str) -> Snapshot | None:
        return self.snapshots.get(token)

    def page(self, snap: Snapshot, kind: str) -> dict[str, Any]:
        """One page of `snap`: nextPageToken while items remain, else nextSyncToken."""
        items = snap.items[snap.offset : snap.offset + snap.page_size]
        body: dict[str, Any] = {"kind": kind, "etag": f'"p{now_ms()}"', **snap.extra, "items": items}
        if snap.offset + snap.page_size < len(snap.items):
            token = "E" + secrets.token_urlsafe(24)
            rest = snap.offset + snap.page_size
            self.snapshots[token] = Snapshot(snap.items, rest, snap.page_size, snap.sync_token, snap.extra)
            body["nextPageToken"] = token
        else:
            body["nextSyncToken"] = snap.sync_token
        return body

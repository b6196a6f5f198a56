"""Push notification rules (docs/google.md §9): a channel's secret token is kept only as its
SHA-256, and a notification counts only if its channel, token and resource id all match."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["sync", "changed", "unknown", "stopped", "forbidden"]
ACCEPTING = ("creating", "live")


@dataclass(frozen=True)
class KnownChannel:
    """What the webhook needs of a stored channel."""

    channel_id: str
    user_id: str
    calendar_id: str
    token_hash: bytes
    resource_id: str | None
    state: str
    stop_reason: str | None


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def judge(
    channel: KnownChannel | None, token: str | None, resource_id: str | None, resource_state: str | None
) -> Verdict:
    """What a notification means. A renewed channel still counts until Google confirms its stop;
    a channel whose watch has not answered yet has no resource id to compare (its token decides)."""
    if channel is None:
        return "unknown"
    accepting = channel.state in ACCEPTING or (
        channel.state == "stopping" and channel.stop_reason == "renewed"
    )
    if not accepting:
        return "stopped"
    if token is None or not hmac.compare_digest(token_hash(token), channel.token_hash):
        return "forbidden"
    if channel.resource_id is not None and resource_id != channel.resource_id:
        return "forbidden"
    return "sync" if resource_state == "sync" else "changed"

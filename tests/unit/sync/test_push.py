"""Which push notifications count: channel, token (compared by its SHA-256) and resource id."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.sync.domain.push import KnownChannel, judge, token_hash

LIVE = KnownChannel("c1", "u1", "cal", token_hash("secret"), "r1", "live", None)


def test_a_matching_notification_counts_and_sync_is_told_apart() -> None:
    assert judge(LIVE, "secret", "r1", "exists") == "changed"
    assert judge(LIVE, "secret", "r1", "not_exists") == "changed"
    assert judge(LIVE, "secret", "r1", "sync") == "sync"


@pytest.mark.parametrize(
    ("token", "resource_id"), [("guess", "r1"), (None, "r1"), ("secret", "r2"), ("secret", None)]
)
def test_a_wrong_token_or_resource_id_is_refused(token: str | None, resource_id: str | None) -> None:
    assert judge(LIVE, token, resource_id, "exists") == "forbidden"


def test_unknown_and_stopped_channels_are_ignored_but_a_renewed_one_counts_until_stopped() -> None:
    assert judge(None, "secret", "r1", "exists") == "unknown"
    assert judge(replace(LIVE, state="stopped"), "secret", "r1", "exists") == "stopped"
    assert (
        judge(replace(LIVE, state="stopping", stop_reason="calendar_switched"), "secret", "r1", "exists")
        == "stopped"
    )
    assert (
        judge(replace(LIVE, state="stopping", stop_reason="renewed"), "secret", "r1", "exists") == "changed"
    )


def test_before_watch_answers_the_token_alone_decides() -> None:
    creating = replace(LIVE, state="creating", resource_id=None)
    assert judge(creating, "secret", "r-any", "sync") == "sync"
    assert judge(creating, "guess", "r-any", "sync") == "forbidden"

"""Which ``reply_to`` values auth may answer: only reply queues under the prefix and direct reply-to."""

from __future__ import annotations

import pytest

from shared.rpc import is_reply_queue, reply_queue_name


def test_a_new_reply_queue_name_follows_the_rule() -> None:
    """RpcClient's queue names are accepted, under their own prefix only."""
    name = reply_queue_name("t1.")
    assert name.startswith("t1.rpc.reply.") and is_reply_queue(name, "t1.")
    assert not is_reply_queue(name, "t2.")


@pytest.mark.parametrize("reply_to", ["amq.rabbitmq.reply-to", "amq.rabbitmq.reply-to.g1hkABhyYWJi"])
def test_direct_reply_to_is_a_reply_queue(reply_to: str) -> None:
    """Direct reply-to reaches only the requesting channel, so a token may go there."""
    assert is_reply_queue(reply_to, "t1.")


@pytest.mark.parametrize(
    "reply_to",
    [
        "",
        "t1.sync.grant_events",
        "t1.auth.token_requests.dead",
        "t1.rpc.reply.",
        "t1.rpc.reply.0123456789abcdef0123456789abcdef.dead",
        "t1.rpc.reply.0123456789ABCDEF0123456789ABCDEF",
        "amq.gen-Qr0odgsGFhXSIZtj75l9Mg",
        "amq.rabbitmq.reply-tox",
    ],
)
def test_work_dead_letter_and_server_named_queues_are_not(reply_to: str) -> None:
    """A work queue, a dead-letter queue or anything not matching the rule never gets a reply."""
    assert not is_reply_queue(reply_to, "t1.")

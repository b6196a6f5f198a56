"""The chaos run's fault schedule: the same seed gives the same faults at the same moments, and the
schedule holds what the run promises (kills per service, distinct nodes and users, early revocations)."""

from __future__ import annotations

import random
from collections import Counter

from devtools.chaos.faults import Plan, make_plan


def plan(seed: int) -> Plan:
    return make_plan(
        random.Random(seed), stream_seconds=100, users=200, kills=2, nodes=2, revoked=10, malformed=5
    )


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    """CHAOS_SEED replays a run's faults exactly."""
    assert plan(7) == plan(7)
    assert plan(7) != plan(8)


def test_the_schedule_holds_every_promised_fault_inside_the_stream() -> None:
    """Two kills per service, two different nodes, ten different users revoked before 60 %, one
    PostgreSQL restart, five malformed messages; everything within the stream."""
    p = make_plan(random.Random(3), stream_seconds=100, users=200, kills=2, nodes=2, revoked=10, malformed=5)
    assert Counter(name for _, name, _ in p.kills) == {"auth": 2, "sync": 2, "notifier": 2}
    assert len({node for _, node in p.node_restarts}) == 2
    assert len({user for _, user, _ in p.revocations}) == 10
    assert {how for _, _, how in p.revocations} == {"revoke", "change_password"}
    assert all(second <= 60 for second, _, _ in p.revocations)
    assert len(p.postgres_restarts) == 1 and len(p.malformed) == 5
    moments = [s for s, _, _ in p.kills] + [s for s, _ in p.node_restarts] + p.postgres_restarts + p.malformed
    assert all(0 < second < 100 for second in moments)

"""Losing the node a service is connected to: the broker moves to a surviving node, its consumer is
restored there, and a message the quorum confirmed before the loss is still delivered."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared import messages as m
from shared.consumer import Delivery, Routes
from tests.integration.cluster.conftest import QUEUE, ClusterBroker, Nodes
from tests.support.helpers import eventually

FAILOVER_SECONDS = 30  # node stop detected, reconnect interval, restore: seconds on a busy machine


def contact(user_id: str) -> m.UserContactChanged:
    return m.UserContactChanged(user_id=user_id, email=f"{user_id}@example.com")


def recording(handled: list[str]) -> Routes:
    async def on_contact(message: m.UserContactChanged, conn: asyncpg.Connection, delivery: Delivery) -> None:
        handled.append(message.user_id)

    return {m.UserContactChanged: on_contact}


async def test_three_addresses_publish_and_consume_on_a_queue_replicated_to_every_node(
    cluster_broker: ClusterBroker, messaging_pool: asyncpg.Pool, nodes: Nodes, cluster_prefix: str
) -> None:
    """A broker given three addresses publishes and consumes, and its queue has a replica on each node."""
    handled: list[str] = []
    broker = await cluster_broker("cluster-basic")
    assert nodes.index_of(broker.address) == 1  # the first address answers, so it is used
    await broker.consume(QUEUE, recording(handled), pool=messaging_pool)
    await broker.publish(contact("u-1"))

    async def consumed() -> None:
        assert handled == ["u-1"]

    await eventually(consumed)
    members, online = await nodes.queue_members(1, cluster_prefix + QUEUE)
    assert len(members) == 3
    assert online == members


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_losing_the_connected_node_moves_the_consumer_to_a_surviving_node(
    how: str, cluster_broker: ClusterBroker, messaging_pool: asyncpg.Pool, nodes: Nodes
) -> None:
    """After its node stops or crashes, a consuming broker reconnects elsewhere in bounded time and keeps
    consuming."""
    handled: list[str] = []
    consumer = await cluster_broker("cluster-consumer")
    publisher = await cluster_broker("cluster-publisher")
    await consumer.consume(QUEUE, recording(handled), pool=messaging_pool)
    lost = nodes.index_of(consumer.address)
    started = asyncio.get_running_loop().time()
    await nodes.stop(lost, how)

    async def moved() -> None:
        for broker in (consumer, publisher):
            assert broker.connected
            assert nodes.index_of(broker.address) != lost

    await eventually(moved, timeout=FAILOVER_SECONDS, interval=0.2)
    failover = asyncio.get_running_loop().time() - started
    await eventually(lambda: publisher.publish(contact("u-after")), timeout=10, interval=0.2)

    async def consumed() -> None:
        assert handled == ["u-after"]

    await eventually(consumed, timeout=FAILOVER_SECONDS)
    print(f"{how}: on node {nodes.index_of(consumer.address)} {failover:.1f} s after the {how} began")


async def test_message_confirmed_before_the_node_stops_is_consumed_after_and_the_node_rejoins(
    cluster_broker: ClusterBroker,
    messaging_pool: asyncpg.Pool,
    nodes: Nodes,
    cluster_url: str,
    cluster_prefix: str,
) -> None:
    """A confirmed message outlives the node that took it; restarted, that node rejoins and serves again."""
    handled: list[str] = []
    broker = await cluster_broker("cluster-survivor")
    await broker.publish(contact("u-before"))  # confirmed: a majority of the replicas have it
    lost = nodes.index_of(broker.address)
    await nodes.stop(lost)

    async def moved() -> None:
        assert broker.connected
        assert nodes.index_of(broker.address) != lost

    await eventually(moved, timeout=FAILOVER_SECONDS, interval=0.2)
    await broker.consume(QUEUE, recording(handled), pool=messaging_pool)

    async def consumed(expected: list[str]) -> None:
        assert handled == expected

    await eventually(lambda: consumed(["u-before"]), timeout=FAILOVER_SECONDS)

    await nodes.start(lost)
    survivor = nodes.index_of(broker.address)
    members, online = await nodes.queue_members(survivor, cluster_prefix + QUEUE)
    assert online == members
    assert len(members) == 3
    only_rejoined = cluster_url.split(",")[lost - 1]
    rejoined = await cluster_broker("cluster-rejoined", url=only_rejoined)
    await rejoined.publish(contact("u-rejoined"))
    await eventually(lambda: consumed(["u-before", "u-rejoined"]), timeout=FAILOVER_SECONDS)

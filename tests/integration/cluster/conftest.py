"""Fixtures for the failover tests: the local three-node cluster of ``make cluster-up`` (skipped with
a reason when it is not running), node control through ``scripts/cluster.sh``, and brokers on it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import pytest_asyncio

from shared.amqp import Broker
from shared.config import amqp_addresses
from tests.conftest import delete_prefix, messaging_schema, queue_brokers

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "cluster.sh"
DEFAULT_CLUSTER_URL = ",".join(f"amqp://guest:guest@127.0.0.1:{port}/" for port in (5681, 5682, 5683))
SCHEMA = "cluster_test"
QUEUE = "notifier.user_events"  # bound to platform.events, platform.user.*


def _answers(address: str) -> bool:
    parts = urlsplit(address)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def cluster_url() -> str:
    """The cluster's AMQP_URL (three addresses); skips unless every node accepts connections."""
    url = os.environ.get("CLUSTER_AMQP_URL", DEFAULT_CLUSTER_URL)
    up = [address for address in amqp_addresses(url, "CLUSTER_AMQP_URL") if _answers(address)]
    if not up:
        pytest.skip("the local RabbitMQ cluster is not running (make cluster-up, or make cluster-test)")
    if len(up) < 3:
        pytest.skip(
            f"only {len(up)} of 3 cluster nodes answer (make cluster-status; make cluster-node-start N=..)"
        )
    return url


class Nodes:
    """Stops and starts cluster nodes (1-3, in the order of the cluster URL) with scripts/cluster.sh."""

    def __init__(self, url: str) -> None:
        self.ports = [urlsplit(address).port for address in amqp_addresses(url)]
        self.stopped: set[int] = set()

    def index_of(self, address: str) -> int:
        """The node (1-3) a broker address points at."""
        return self.ports.index(urlsplit(address).port) + 1

    async def run(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            str(SCRIPT), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 180)
        assert process.returncode == 0, f"cluster.sh {' '.join(args)} failed: {err.decode()[-2000:]}"
        return out.decode()

    async def stop(self, node: int, how: str = "stop") -> None:
        """Stop ``node`` gracefully (``stop``) or crash it (``kill``: SIGKILL); returns once it is gone."""
        self.stopped.add(node)
        await self.run(how, str(node))

    async def start(self, node: int) -> None:
        await self.run("start", str(node))
        self.stopped.discard(node)

    async def queue_members(self, node: int, queue: str) -> tuple[set[str], set[str]]:
        """(members, online members) of a quorum queue, as node ``node`` sees them."""
        out = await self.run(
            "ctl", str(node), "-q", "list_queues", "name", "members", "online", "--formatter", "json"
        )
        for row in json.loads(out):
            if row["name"] == queue:
                return set(row["members"]), set(row["online"])
        raise AssertionError(f"queue {queue} not found on node {node}")


@pytest_asyncio.fixture
async def nodes(cluster_url: str) -> AsyncIterator[Nodes]:
    """Node control; every node a test stopped is started again afterwards."""
    control = Nodes(cluster_url)
    yield control
    for node in sorted(control.stopped):
        await control.start(node)


@pytest_asyncio.fixture
async def cluster_prefix(cluster_url: str) -> AsyncIterator[str]:
    """A unique name prefix on the cluster; its exchanges and queues are deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    yield prefix
    await delete_prefix(cluster_url, prefix, [QUEUE])


ClusterBroker = Callable[..., Awaitable[Broker]]


@pytest_asyncio.fixture
async def cluster_broker(cluster_url: str, cluster_prefix: str) -> AsyncIterator[ClusterBroker]:
    """``await cluster_broker(name, url=...)`` -> a connected broker on the cluster with QUEUE declared."""
    async with queue_brokers(cluster_prefix, [QUEUE]) as make:

        async def named(name: str, url: str = cluster_url) -> Broker:
            return await make(url, name=name)

        yield named


@pytest_asyncio.fixture
async def messaging_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a schema with only the shared outbox and processed_messages tables, emptied after."""
    async with messaging_schema(database_url, SCHEMA, "cluster-test") as pool:
        yield pool

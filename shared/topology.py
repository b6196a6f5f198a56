"""The whole AMQP topology, declared in one place.

::

    platform.events (topic) --platform.appointment.*--> sync.appointments
                            --platform.user.deleted---> sync.user_events, auth.user_events
                            --platform.user.*---------> notifier.user_events
    auth.events (topic) -----auth.grant.*-------------> sync.grant_events
                            --auth.#------------------> notifier.auth_events
    sync.events (topic) -----sync.calendar.*----------> notifier.calendar_events
                            --sync.channels.stopped----> auth.sync_events
                            --sync.appointments.backfill_requested--> (the platform's own queue)
                            --sync.calendar.event.*, sync.appointment.external_change--> (the platform's)
    auth.rpc (direct) -------auth.token.requested-----> auth.token_requests --reply_to--> caller
    notifier.events (topic)  (published for the platform; nobody in calsync consumes it)

    Every work queue Q (quorum, durable) has
      calsync.retry (direct) --Q.<ms>--> Q.retry.<ms> --(TTL ms, dead-letters back)--> Q
      calsync.dead (direct)  --Q-------> Q.dead     (reason in headers; kept for operators)

Exchanges are durable topic exchanges with no arguments, so a platform service that declares
``platform.events`` the same way gets no conflict. Every name carries the configured prefix
(empty in production, unique per test).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import messages as m

RETRY_EXCHANGE = "calsync.retry"
DEAD_EXCHANGE = "calsync.dead"

EXCHANGES: dict[str, str] = {
    m.PLATFORM_EVENTS: "topic",
    m.AUTH_EVENTS: "topic",
    m.SYNC_EVENTS: "topic",
    m.NOTIFIER_EVENTS: "topic",
    m.AUTH_RPC: "direct",
    RETRY_EXCHANGE: "direct",
    DEAD_EXCHANGE: "direct",
}

# Exchanges whose consumers live outside calsync: a message nobody has bound a queue for is dropped
# by design there. Everywhere else an unroutable message is an error (the publisher sees it).
OPTIONAL_ROUTING = frozenset({m.NOTIFIER_EVENTS})
# Single routing keys whose consumer lives outside calsync (the platform binds its own queue).
OPTIONAL_ROUTING_KEYS = frozenset(
    {
        m.AppointmentsBackfillRequested.ROUTING_KEY,
        m.CalendarEventChanged.ROUTING_KEY,
        m.CalendarEventDeleted.ROUTING_KEY,
        m.AppointmentExternalChange.ROUTING_KEY,
    }
)


def routing_required(exchange: str, routing_key: str) -> bool:
    """Whether an unroutable publish to ``exchange`` with ``routing_key`` is an error."""
    return exchange not in OPTIONAL_ROUTING and routing_key not in OPTIONAL_ROUTING_KEYS


# What each service publishes to; it declares the queues bound there too, so its events are routable
# whatever order the services start in.
PUBLISHES: dict[str, tuple[str, ...]] = {
    "auth": (m.AUTH_EVENTS,),
    "sync": (m.SYNC_EVENTS, m.AUTH_RPC),
    "notifier": (m.NOTIFIER_EVENTS,),
}

# The one publisher of each exchange: with publisher verification on, a consumer accepts a message
# only from that publisher's broker user (``shared.config.BrokerUsers``, docs/security.md).
PUBLISHER_OF: dict[str, str] = {
    m.PLATFORM_EVENTS: "platform",
    **{exchange: service for service, exchanges in PUBLISHES.items() for exchange in exchanges},
}

DELIVERY_LIMIT = 20  # a message that crashes its consumer this often is dead-lettered by RabbitMQ


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's work queue and what it is bound to."""

    name: str
    exchange: str
    routing_keys: tuple[str, ...]
    service: str


QUEUES: dict[str, QueueSpec] = {
    q.name: q
    for q in (
        QueueSpec("sync.appointments", m.PLATFORM_EVENTS, ("platform.appointment.*",), "sync"),
        QueueSpec("sync.user_events", m.PLATFORM_EVENTS, ("platform.user.deleted",), "sync"),
        QueueSpec("sync.grant_events", m.AUTH_EVENTS, ("auth.grant.*",), "sync"),
        QueueSpec("auth.user_events", m.PLATFORM_EVENTS, ("platform.user.deleted",), "auth"),
        QueueSpec("auth.token_requests", m.AUTH_RPC, ("auth.token.requested",), "auth"),
        QueueSpec("auth.sync_events", m.SYNC_EVENTS, ("sync.channels.stopped",), "auth"),
        QueueSpec("notifier.user_events", m.PLATFORM_EVENTS, ("platform.user.*",), "notifier"),
        QueueSpec("notifier.auth_events", m.AUTH_EVENTS, ("auth.#",), "notifier"),
        QueueSpec("notifier.calendar_events", m.SYNC_EVENTS, ("sync.calendar.*",), "notifier"),
    )
}


def queues_of(service: str) -> tuple[QueueSpec, ...]:
    """The queues a service consumes from."""
    return tuple(q for q in QUEUES.values() if q.service == service)


def queues_to_declare(service: str) -> tuple[str, ...]:
    """The service's own queues plus every queue bound to an exchange it publishes to."""
    targets = PUBLISHES.get(service, ())
    return tuple(q.name for q in QUEUES.values() if q.service == service or q.exchange in targets)


def retry_queue(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}"


def dead_queue(queue: str) -> str:
    return f"{queue}.dead"

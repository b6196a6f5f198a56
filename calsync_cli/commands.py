"""The commands that ask the services' HTTP APIs: each returns an ``Outcome``, the data (printed as
JSON with ``--json``) and the lines a person reads. Refusals become one-line ``CliError``s."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from calsync_cli import render
from calsync_cli.client import CliError, Reply, Services, path


@dataclass(frozen=True)
class Outcome:
    data: Any
    lines: list[str]
    exit_code: int = 0  # non-zero: the command ran, and what it found is a failure (scripts see it)


def expect(reply: Reply, service: str, *ok: int) -> Any:
    if reply.status not in ok:
        raise CliError(f"{service} answered {reply.status}: {reply.error()}")
    return reply.body


async def connections(services: Services, args: argparse.Namespace) -> Outcome:
    """``calsync connections [--state S] [--reason R]``: auth's connections, newest change first."""
    params = {"limit": str(args.limit)}
    params.update({name: value for name in ("state", "reason") if (value := getattr(args, name))})
    listed = expect(await services.call("auth", "GET", "/api/v1/connections", params=params), "auth", 200)
    rows = listed["connections"]
    if not rows:
        return Outcome(listed, ["no connection matches"])
    table = render.table(
        ["USER", "STATE", "REASON", "SINCE", "GOOGLE ACCOUNT"],
        [[r["user_id"], r["state"], r["reason"], r["since"], r["google_email"]] for r in rows],
    )
    more = [f"(first {args.limit}; --limit shows more)"] if len(rows) == args.limit else []
    return Outcome(listed, [*table, *more])


async def _connection(services: Services, user_id: str) -> dict[str, Any]:
    reply = await services.call("auth", "GET", path("/api/v1/users/{u}/connection", u=user_id))
    body: dict[str, Any] = expect(reply, "auth", 200)
    return body


async def user(services: Services, args: argparse.Namespace) -> Outcome:
    """``calsync user <user_id>``: the connection (auth) and the calendar, channel, inbound sync and
    pending appointments (sync), with the next step to take."""
    connection = await _connection(services, args.user_id)
    reply = await services.call("sync", "GET", path("/api/v1/users/{u}/sync-health", u=args.user_id))
    health = expect(reply, "sync", 200)
    if connection["state"] == "none" and health["grant_state"] is None and not health["pending"]:
        raise CliError(f"unknown user {args.user_id}: auth has no connection and sync no record of them")
    data = {"user_id": args.user_id, "connection": connection, "sync": health}
    return Outcome(data, render.fields(_user_fields(args.user_id, connection, health)))


def _user_fields(
    user_id: str, connection: dict[str, Any], health: dict[str, Any]
) -> list[tuple[str, object]]:
    state, reason = connection["state"], connection["reason"]
    problem, channel, inbound = health["calendar_problem"], health["channel"], health["inbound"]
    return [
        ("user", user_id),
        ("connection", f"{state}" + (f" ({reason})" if reason else "") + _since(connection["since"])),
        ("google account", connection["google_email"]),
        ("sync sees", health["grant_state"] or "no connection"),
        ("calendar", health["calendar_id"] or "not resolved yet"),
        ("calendar problem", f"{problem['problem']} since {problem['since']}" if problem else "none"),
        ("watch channel", f"{channel['state']}, expires {channel['expires_at']}" if channel else "none"),
        ("inbound sync", _inbound(inbound)),
        ("pending", f"{health['pending']}" + _since(health["oldest_pending_since"], "oldest since")),
        ("failed", health["failed"]),
        ("last write", health["last_success_at"]),
        ("last failure", _failure(health)),
        ("next step", next_step(user_id, connection, health)),
    ]


def _since(value: str | None, word: str = "since") -> str:
    return f" {word} {value}" if value else ""


def _inbound(inbound: dict[str, Any] | None) -> str:
    if inbound is None:
        return "none"
    last = inbound["last_synced_at"] or "never"
    return f"{inbound['state']}, last synced {last}, requested by {inbound['requested_by']}"


def _failure(health: dict[str, Any]) -> str | None:
    if health["last_failure_at"] is None:
        return None
    return f"{health['last_failure']} at {health['last_failure_at']}"


def next_step(user_id: str, connection: dict[str, Any], health: dict[str, Any]) -> str:
    """What the runbook (docs/operations.md) says to do next for what the user's state shows."""
    if connection["state"] == "none":
        return "the user has no Google connection: they connect on their settings page"
    if connection["state"] != "connected":
        return f"the user must reconnect: send them `calsync reconnect-link {user_id}`"
    if health["grant_state"] != "connected":
        return "auth and sync disagree on the connection: `calsync dead-letters list sync.grant_events`"
    if health["calendar_problem"]:
        return "the calendar cannot be written: the user picks another one or grants access again"
    if health["calendar_id"] is None:
        return "sync is resolving the calendar; look again in a minute"
    if health["channel"] is None or health["channel"]["state"] != "live":
        return f"no live watch channel yet: `calsync resync {user_id}` fetches Google's changes meanwhile"
    if health["failed"] or health["pending"]:
        return (
            "appointments are waiting: see `last failure`, then `calsync dead-letters list sync.appointments`"
        )
    return (
        f"nothing is waiting: `calsync test-connection {user_id}` checks writing and pushes live;"
        " then ask for the appointment's id"
    )


async def reconnect_link(services: Services, args: argparse.Namespace) -> Outcome:
    """``calsync reconnect-link <user_id>``: a fresh signed settings link the user opens to reconnect."""
    connection = await _connection(services, args.user_id)
    if connection["state"] == "none":
        raise CliError(f"unknown user {args.user_id}: auth has no connection to reconnect")
    body: dict[str, Any] = {"locale": args.locale}
    if args.ttl is not None:
        body["ttl_seconds"] = args.ttl
    reply = await services.call("auth", "POST", path("/api/v1/users/{u}/link", u=args.user_id), body=body)
    link = expect(reply, "auth", 201)
    data = {"user_id": args.user_id, "state": connection["state"], **link}
    lines = [link["url"], f"valid until {link['expires_at']}; the connection is {connection['state']}"]
    return Outcome(data, lines)


RESYNC_REFUSALS = {
    "unknown_user": "unknown user {user}: sync has no record of them",
    "not_connected": "cannot resync {user}: {detail}",
    "no_calendar": "cannot resync {user}: {detail}",
}


async def resync(services: Services, args: argparse.Namespace) -> Outcome:
    """``calsync resync <user_id>``: an inbound sync of the user's calendar, due now."""
    reply = await services.call("sync", "POST", path("/api/v1/users/{u}/resync", u=args.user_id))
    if reply.status != 202 and isinstance(reply.body, dict) and reply.body.get("error") in RESYNC_REFUSALS:
        message = RESYNC_REFUSALS[reply.body["error"]]
        raise CliError(message.format(user=args.user_id, detail=reply.error()))
    done = expect(reply, "sync", 202)
    return Outcome(
        done, [f"inbound sync of {done['calendar_id']} requested; `calsync user {args.user_id}` shows it"]
    )


async def resend_alert(services: Services, args: argparse.Namespace) -> Outcome:
    """``calsync resend-alert <user_id>``: the user's open alert email once more, with a fresh link."""
    reply = await services.call("notifier", "POST", path("/api/v1/users/{u}/alert", u=args.user_id))
    if reply.status == 404 and isinstance(reply.body, dict) and reply.body.get("error") == "no_open_problem":
        raise CliError(f"nothing to resend for {args.user_id}: {reply.error()}")
    queued = expect(reply, "notifier", 202)
    return Outcome(
        queued, [f"alert ({queued['reason']}) queued for {args.user_id}; it goes out within seconds"]
    )


ROTATE_ROUNDS = 10
ROTATE_TIMEOUT_SECONDS = 600.0


async def rotate_keys(services: Services, args: argparse.Namespace) -> Outcome:  # noqa: ARG001
    """``calsync rotate-keys``: auth re-encrypts every stored secret under its newest key, round after
    round (each in small locked batches) until a round finds nothing left under an older key."""
    rounds: list[int] = []
    while len(rounds) < ROTATE_ROUNDS:
        reply = await services.call("auth", "POST", "/api/v1/keys/rotate", timeout=ROTATE_TIMEOUT_SECONDS)
        done = expect(reply, "auth", 200)
        rounds.append(int(done["values_reencrypted"]))
        services.progress.write(
            f"round {len(rounds)}: {rounds[-1]} value(s) re-encrypted under {done['key_id']}\n"
        )
        if rounds[-1] == 0:
            data = {"key_id": done["key_id"], "values_reencrypted": sum(rounds), "rounds": len(rounds)}
            return Outcome(data, [f"every stored secret is under key {done['key_id']}: older keys can go"])
    raise CliError(
        f"values were still re-encrypted after {ROTATE_ROUNDS} rounds: is an instance on older TOKEN_KEYS?"
    )


TEST_TIMEOUT_SECONDS = 60.0


async def test_connection(services: Services, args: argparse.Namespace) -> Outcome:
    """``calsync test-connection <user_id>``: the settings page's live test (auth refreshes the grant,
    sync writes and removes a probe event and waits for its push); exit 1 when a step fails."""
    services.progress.write(f"testing {args.user_id}'s connection: token refresh, probe write, push ...\n")
    reply = await services.call(
        "auth",
        "POST",
        path("/api/v1/users/{u}/connection/test", u=args.user_id),
        body={"locale": args.locale},
        timeout=TEST_TIMEOUT_SECONDS,
    )
    report = expect(reply, "auth", 200)
    steps = render.table(
        ["STEP", "STATUS", "CODE", "WHAT IT MEANS"],
        [[step["step"], step["status"], step["code"], step["message"]] for step in report["steps"]],
    )
    verdict = "the connection works" if report["ok"] else "the connection test failed"
    return Outcome(report, [*steps, verdict], exit_code=0 if report["ok"] else 1)

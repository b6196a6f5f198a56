"""``calsync risc register|check``: the Cross-Account Protection stream with Google (docs/google.md
§11, docs/operations.md). Auth says where Google must push security events and which ones
(``GET /api/v1/risc``); ``register`` tells Google so and enables the stream; ``check`` compares what
Google has with that, then asks Google for a verification event and waits until auth has received
and verified it (``GET /api/v1/risc/verifications/{state}``)."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from typing import Any

from calsync_cli.client import Services, path
from calsync_cli.commands import Outcome, expect
from calsync_cli.google_risc import RiscApi
from calsync_cli.render import fields

POLL_SECONDS = 0.5


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    top = sub.add_parser(
        "risc",
        parents=[common],
        help="register or check Google's security-event stream (Cross-Account Protection)",
    )
    actions = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    receiver = argparse.ArgumentParser(add_help=False)
    receiver.add_argument(
        "--receiver", help="the receiver URL Google pushes to (default: auth's public /risc, from auth)"
    )
    register = actions.add_parser(
        "register", parents=[common, receiver], help="point the stream at auth's /risc and enable it"
    )
    register.set_defaults(run=register_stream)
    check = actions.add_parser(
        "check",
        parents=[common, receiver],
        help="compare the stream with auth's settings, then have Google send a verification event",
    )
    check.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the verification event (default 60)"
    )
    check.set_defaults(run=check_stream)


async def _wanted(services: Services, args: argparse.Namespace) -> tuple[str, list[str]]:
    """The receiver URL and the event types auth wants (``--receiver`` overrides the URL)."""
    settings = expect(await services.call("auth", "GET", "/api/v1/risc"), "auth", 200)
    return args.receiver or settings["receiver_url"], list(settings["events_requested"])


async def register_stream(services: Services, args: argparse.Namespace) -> Outcome:
    receiver, events = await _wanted(services, args)
    api = RiscApi(services.env, services.http)
    await api.update_stream(receiver, events)
    await api.set_status("enabled")
    data = {"receiver_url": receiver, "events_requested": events, "status": "enabled"}
    lines = [
        "registered the security-event stream with Google",
        *fields([("receiver", receiver), ("events", len(events)), ("status", "enabled")]),
        "next: `calsync risc check` has Google send a test event to it",
    ]
    return Outcome(data, lines)


async def check_stream(services: Services, args: argparse.Namespace) -> Outcome:
    receiver, events = await _wanted(services, args)
    api = RiscApi(services.env, services.http)
    stream, status = await api.stream(), await api.status()
    registered = str((stream.get("delivery") or {}).get("url", ""))
    missing = sorted(set(events) - set(stream.get("events_requested") or []))
    checks = {
        "receiver": (registered == receiver, registered or "none", f"auth expects {receiver}"),
        "events": (not missing, f"{len(events) - len(missing)} of {len(events)} requested", _short(missing)),
        "status": (status == "enabled", status, "Google sends nothing while disabled"),
    }
    if status == "enabled":
        checks["delivery"] = await _delivery(services, api, args.timeout)
    ok = all(passed for passed, _, _ in checks.values())
    lines = [
        f"{name:<9} {'ok' if passed else 'FAILED':<6}  {seen}" + ("" if passed else f" ({fix})")
        for name, (passed, seen, fix) in checks.items()
    ]
    if not ok:
        lines.append("fix: `calsync risc register` (with --receiver if auth is reached through another URL)")
    data = {
        "ok": ok,
        "checks": {name: {"ok": passed, "seen": seen} for name, (passed, seen, _) in checks.items()},
    }
    return Outcome(data, lines, exit_code=0 if ok else 1)


async def _delivery(services: Services, api: RiscApi, timeout: float) -> tuple[bool, str, str]:
    """Google pushes a verification event; wait (up to ``timeout`` s) until auth has received it."""
    state = "calsync-check-" + secrets.token_hex(8)
    began = time.monotonic()
    await api.verify(state)
    services.progress.write(f"waiting up to {timeout:g} s for Google's verification event at auth ")
    while (waited := time.monotonic() - began) < timeout:
        reply = await services.call("auth", "GET", path("/api/v1/risc/verifications/{s}", s=state))
        if reply.status == 200:
            services.progress.write(" arrived\n")
            return True, f"verification event received and verified in {waited:.1f} s", ""
        expect(reply, "auth", 404)
        services.progress.write(".")
        services.progress.flush()
        await asyncio.sleep(POLL_SECONDS)
    services.progress.write(" not arrived\n")
    return False, f"no verification event within {timeout:g} s", "is the receiver reachable from Google?"


def _short(missing: list[str]) -> str:
    names = [event.rpartition("/")[2] for event in missing]
    if not names:
        return ""
    return "not requested: " + ", ".join(names)

"""``calsync``: the operator's command line. Parses the arguments, runs one command against the
running services and prints its answer (``--json`` for scripts); exit 0 on success, 1 with one line on
stderr when something went wrong, 2 for a command line that does not parse."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TextIO

from calsync_cli import commands, dead_letters, render, risc
from calsync_cli.client import CliError, Services, session

Command = Callable[[Services, argparse.Namespace], Awaitable[commands.Outcome]]

ENVIRONMENT = """environment:
  AUTH_API_URL, SYNC_API_URL, NOTIFIER_API_URL
                                where the services serve (e.g. http://127.0.0.1:8081, :8082, :8083)
  SERVICE_TOKEN                 the services' API token
  AMQP_URL_<SERVICE>, AMQP_URL  the broker, as the queue's consuming service (dead-letters only)
  AMQP_PREFIX                   the broker names' prefix (dead-letters only)
  RISC_SERVICE_ACCOUNT_KEY_FILE a service account's JSON key with roles/riscconfigs.admin (risc only)
  RISC_API_URL                  Google's RISC API (default https://risc.googleapis.com; risc only)
runbook: docs/operations.md"""


DESCRIPTION = "Look into and repair users' Google Calendar sync through the running calsync services."


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="calsync",
        description=DESCRIPTION,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--json", action="store_true", help="print the answer as JSON")
    # --json after the command too; SUPPRESS keeps a --json given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the answer as JSON"
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = sub.add_parser("connections", parents=[common], help="list connections by state and reason")
    listing.add_argument("--state", choices=["connected", "disconnected", "suspended"])
    listing.add_argument("--reason", help="e.g. revoked, password_changed, account_deleted")
    listing.add_argument("--limit", type=_limit, default=100, help="at most this many (1-1000, default 100)")
    listing.set_defaults(run=commands.connections)

    user = sub.add_parser(
        "user", parents=[common], help="one user's connection, calendar, channel and appointments"
    )
    user.add_argument("user_id")
    user.set_defaults(run=commands.user)

    link = sub.add_parser(
        "reconnect-link", parents=[common], help="a fresh settings link for the user to reconnect"
    )
    link.add_argument("user_id")
    link.add_argument("--locale", choices=["en", "de"], default="en")
    link.add_argument(
        "--ttl", type=int, help="seconds the link stays valid (default: auth's LINK_TTL_SECONDS)"
    )
    link.set_defaults(run=commands.reconnect_link)

    resync = sub.add_parser(
        "resync", parents=[common], help="fetch the user's calendar changes from Google now"
    )
    resync.add_argument("user_id")
    resync.set_defaults(run=commands.resync)

    test = sub.add_parser(
        "test-connection",
        parents=[common],
        help="test the user's connection live (refresh, probe write, push)",
    )
    test.add_argument("user_id")
    test.add_argument("--locale", choices=["en", "de"], default="en", help="language of the explanations")
    test.set_defaults(run=commands.test_connection)

    alert = sub.add_parser("resend-alert", parents=[common], help="email the user's open alert again")
    alert.add_argument("user_id")
    alert.set_defaults(run=commands.resend_alert)

    rotate = sub.add_parser(
        "rotate-keys", parents=[common], help="re-encrypt stored secrets under auth's newest TOKEN_KEYS key"
    )
    rotate.set_defaults(run=commands.rotate_keys)

    dead_letters.add_parsers(sub, common)
    risc.add_parsers(sub, common)
    return top


def _limit(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 1000")
    return int(text)


async def run(
    argv: Sequence[str], env: Mapping[str, str], out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Run one command line; returns the exit code (2 for a command line that does not parse)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the problem
        return int(exc.code or 0)
    try:
        command: Command = args.run
        async with session() as http:
            outcome = await command(Services(env, http, err), args)
    except CliError as exc:
        err.write(f"calsync: {exc}\n")
        return 1
    if args.json:
        render.as_json(outcome.data, out)
    else:
        out.write("".join(line + "\n" for line in outcome.lines))
    return outcome.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """The ``calsync`` console script."""
    try:
        return asyncio.run(run(sys.argv[1:] if argv is None else argv, os.environ))
    except KeyboardInterrupt:
        sys.stderr.write("calsync: interrupted\n")
        return 130

"""Run the Google emulator standalone (`make run`): seeds demo@example.com with a primary
calendar and serves until interrupted; drive it over `/_emulator/...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time

from . import GoogleEmulator


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                "level": record.levelname.lower(),
                "logger": record.name,
                "event": record.getMessage(),
            }
        )


def _log(event: str, **data: object) -> None:
    print(json.dumps({"event": event, "logger": "google_emulator", **data}), flush=True)


async def _serve(args: argparse.Namespace) -> None:
    emu = GoogleEmulator(args.public_url, client_id=args.client_id, client_secret=args.client_secret)
    if args.allow_http_push:
        emu.insecure_push_hosts.add(args.allow_http_push)
    emu.add_user("demo@example.com", name="Demo User")
    base = await emu.start(args.host, args.port)
    _log("emulator_started", base_url=base, calendar_base_url=emu.calendar_base_url)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()
        _log("emulator_stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.google_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--public-url", default=None)
    parser.add_argument("--client-id", default="calsync-test-client.apps.googleusercontent.com")
    parser.add_argument("--client-secret", default="calsync-test-secret")
    parser.add_argument(
        "--allow-http-push",
        default=None,
        metavar="HOST",
        help="also accept http:// watch addresses on this host",
    )
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()

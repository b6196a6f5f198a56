"""Run the Google emulator standalone (`make run`, benchmarks): seeds demo@example.com with a
primary calendar and a few events, prints its URL and serves until interrupted; drive it over
`/_emulator/...` or its page at `/_emulator/` (`--risc-receiver` is where its buttons send security events;
`--service-account-key` writes a key for the RISC management API, `calsync risc register`).

    python -m devtools.google_emulator --port 0 --latency-ms 30:50"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time

from . import GoogleEmulator
from .demo import seed_demo


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
        emu.allow_http_push(args.allow_http_push)
    if args.latency_ms is not None:
        emu.set_calendar_latency(*args.latency_ms)
    seed_demo(emu.state)
    emu.state.risc_receiver_url = args.risc_receiver or ""
    base = await emu.start(args.host, args.port)
    if args.service_account_key:
        _write_key_file(args.service_account_key, emu.add_service_account())
    _log("emulator_started", base_url=base, calendar_base_url=emu.calendar_base_url)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()
        _log("emulator_stopped")


def _write_key_file(path: str, key_file: dict[str, str]) -> None:
    """A service account's JSON key, readable by its owner only (it holds the private key)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(key_file, out, indent=2)
    _log("service_account_key_written", path=path, client_email=key_file["client_email"])


def latency_range(raw: str) -> tuple[float, float]:
    """`30` or `30:50` / `30-50` (milliseconds) as (low, high)."""
    low, _, high = raw.replace("-", ":").partition(":")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MS or MIN:MAX in milliseconds, got {raw!r}") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {raw!r}")
    return bounds


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
    parser.add_argument(
        "--risc-receiver",
        default=None,
        metavar="URL",
        help="where the page's buttons send security events, e.g. http://127.0.0.1:8081/risc",
    )
    parser.add_argument(
        "--service-account-key",
        default=None,
        metavar="FILE",
        help="make a service account for the RISC management API and write its JSON key to FILE",
    )
    parser.add_argument(
        "--latency-ms",
        type=latency_range,
        default=None,
        metavar="MIN[:MAX]",
        help="hold every Calendar response MIN to MAX milliseconds (uniform)",
    )
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()

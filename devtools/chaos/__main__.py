"""``make chaos``: the full fault-injection run (``CHAOS_EVENTS``, ``CHAOS_USERS``, ``CHAOS_SEED``,
``CHAOS_RATE``); prints the report and, with ``--results DIR``, writes it to DIR/<date>-chaos.md.
``--short`` runs the short form of the test suite."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from devtools.chaos.run import Settings, chaos, report, write_report
from shared.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.chaos")
    parser.add_argument("--short", action="store_true", help="500 events, 20 users, one fault of each kind")
    parser.add_argument("--results", type=Path, default=None, help="write the report to DIR/<date>-chaos.md")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    outcome = asyncio.run(chaos(Settings.short() if args.short else Settings()))
    text = report(outcome)
    print("\n" + text)
    if args.results is not None:
        print(f"\nwritten to {write_report(text, args.results)}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m devtools.bench`` (``make bench``): runs every benchmark module in this package in turn,
then writes the day's report (``bench/results/<date>.md`` with plots, see ``_report``); ``--only
NAME`` (repeatable, e.g. ``--only sync_outbound``) runs just those."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from devtools.bench import _report


def main(argv: list[str] | None = None) -> int:
    names = sorted(
        i.name for i in pkgutil.iter_modules([str(Path(__file__).parent)]) if not i.name.startswith("_")
    )
    parser = argparse.ArgumentParser(prog="python -m devtools.bench")
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"run only this benchmark (one of: {', '.join(names)})")  # fmt: skip
    args = parser.parse_args(argv)
    failures = 0
    for name in args.only or names:
        module = importlib.import_module(f"devtools.bench.{name}")
        runner = getattr(module, "run", None)
        if runner is None:
            continue
        print(f"== {name}", flush=True)
        failures += 1 if runner() else 0
    report = _report.write()
    if report is not None:
        print(f"== report written to {report}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m devtools.bench`` (``make bench``): runs every benchmark module in this package in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    failures = 0
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"devtools.bench.{info.name}")
        runner = getattr(module, "run", None)
        if runner is None:
            continue
        print(f"== {info.name}", flush=True)
        failures += 1 if runner() else 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

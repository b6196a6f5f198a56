"""``python -m devtools.screenshots`` (``make screenshots``): render the user-facing pages to PNG.

Runs the ``async def capture(out_dir)`` of every module in this package, one after another, with
docs/screenshots/ as ``out_dir``. Each module brings up what it needs (database, emulator, services)
and tears it down again.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    package = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "browser":
            continue
        module = importlib.import_module(f"devtools.screenshots.{info.name}")
        capture = getattr(module, "capture", None)
        if capture is None:
            continue
        print(f"screenshots: {info.name}", file=sys.stderr)
        await capture(OUT_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

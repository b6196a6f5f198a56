"""``make demo`` (``python -m devtools.demo``): plays calsync's story against what ``make run``
started, with the same settings (deploy/env.local, the environment on top), and prints a timeline;
exits 1 at the first failed check, saying what was seen."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from devtools.demo.clients import Targets
from devtools.demo.story import play
from devtools.demo.timeline import DemoFailed, Timeline
from devtools.envfile import load_env_file

ENV_FILE = Path(__file__).resolve().parents[2] / "deploy" / "env.local"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--step-timeout", type=float, default=30.0, help="seconds each step may take")
    args = parser.parse_args(argv)
    timeline = Timeline()
    try:
        targets = Targets.from_settings({**load_env_file(ENV_FILE), **os.environ})
        asyncio.run(play(targets, timeline, step_timeout=args.step_timeout))
    except DemoFailed as exc:
        print(f"demo failed: {exc}", file=sys.stderr, flush=True)
        return 1
    timeline.say(f"demo passed: {len(timeline.passed)} steps checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())

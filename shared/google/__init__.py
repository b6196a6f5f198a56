"""Google API material shared by the services: the vendored Calendar v3 discovery document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_DISCOVERY_PATH = Path(__file__).with_name("calendar-v3-discovery.json")


def load_calendar_discovery() -> dict[str, Any]:
    """Return a fresh copy of the Calendar v3 discovery document (callers may mutate it)."""
    data: dict[str, Any] = json.loads(_DISCOVERY_PATH.read_text(encoding="utf-8"))
    return data

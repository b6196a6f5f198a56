"""How the CLI shows an answer: JSON for scripts (``--json``), aligned text for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO


def as_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell; ``None`` shows as ``-``."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]
    lines = [headers, *cells]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]


def fields(pairs: Sequence[tuple[str, object]]) -> list[str]:
    """``name   value`` lines, the names padded to the longest."""
    width = max(len(name) for name, _ in pairs)
    return [f"{name.ljust(width)}  {_cell(value)}" for name, value in pairs]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return " ".join(str(value).split())  # one line per row, whatever the value holds

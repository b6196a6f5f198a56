"""The ``make bench`` report: after the benchmarks ran, ``bench/results/<date>.md`` puts each one's
headline figure next to the bare baseline measured in the same run, with their ratio and the aim,
links each benchmark's own table (and the day's soak, if it ran), and plots throughput and latency
(``<date>-throughput.png``, ``<date>-latency.png``) so runs can be compared.

It reads the figures each benchmark wrote that day (``<date>-auth-refresh.json``,
``<date>-sync-outbound.json``, ``<date>-sync-webhook.json``, ``<date>-soak.json``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


@dataclass(frozen=True)
class Headline:
    """One benchmark's throughput against its bare baseline, and its latency where measured."""

    name: str
    unit: str
    ours: float
    bare: float
    aim: float  # the least ratio ours / bare aimed at
    latency_ms: dict[str, tuple[float, float]]  # "p50"/"p99" -> (ours, bare)
    details: str  # the benchmark's own report file

    @property
    def ratio(self) -> float:
        return round(self.ours / self.bare, 2) if self.bare else 0.0


def headlines(day: str, directory: Path = RESULTS) -> list[Headline]:
    """The headline of every benchmark that wrote figures on ``day`` (YYYY-MM-DD)."""
    found = []
    for stem, read in READERS.items():
        path = directory / f"{day}-{stem}.json"
        if path.exists():
            found.append(read(json.loads(path.read_text()), path))
    return found


def _auth(figures: dict[str, Any], path: Path) -> Headline:
    return Headline(
        "auth refresh storm",
        "refreshes/s",
        figures["ours"]["rate"],
        figures["bare"]["rate"],
        0.7,
        {},
        path.name,
    )


def _timed(
    name: str, unit: str, rate: str, baseline: str, aim: float
) -> Callable[[dict[str, Any], Path], Headline]:
    """A reader for a benchmark whose ``ours`` and ``baseline`` figures carry ``rate`` and p50/p99."""

    def read(figures: dict[str, Any], path: Path) -> Headline:
        ours, bare = figures["ours"], figures[baseline]
        latency = {q: (ours[f"{q}_ms"], bare[f"{q}_ms"]) for q in ("p50", "p99")}
        return Headline(name, unit, ours[rate], bare[rate], aim, latency, path.with_suffix(".md").name)

    return read


_outbound = _timed("sync outbound", "events/s", "events_per_second", "floor", 0.7)
_webhook = _timed("sync webhook", "requests/s", "requests_per_second", "bare", 0.5)


READERS = {"auth-refresh": _auth, "sync-outbound": _outbound, "sync-webhook": _webhook}


def markdown(day: str, found: list[Headline], directory: Path = RESULTS) -> str:
    lines = [
        f"# Benchmarks, {day}",
        "",
        "`make bench` (`python -m devtools.bench`): each figure against the bare",
        "baseline measured in the same run on the same machine.",
        "",
        "| benchmark | ours | bare | ratio | aim | p50 ours / bare | p99 ours / bare | details |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for h in found:
        p50, p99 = (h.latency_ms.get(q) for q in ("p50", "p99"))
        lines.append(
            f"| {h.name} | {h.ours:g} {h.unit} | {h.bare:g} | {h.ratio} | ≥ {h.aim} {'met' if h.ratio >= h.aim else 'MISSED'}"
            f" | {_pair(p50)} | {_pair(p99)} | [{h.details}]({h.details}) |"
        )
    lines += ["", f"![throughput]({day}-throughput.png)", "", f"![latency]({day}-latency.png)"]
    soak = directory / f"{day}-soak.json"
    if soak.exists():
        figures = json.loads(soak.read_text())
        lines += [
            "",
            f"Soak: memory growth {figures['memory_growth']:+.1%} over {figures['settings']['seconds']} s"
            f" ({'flat' if figures['flat'] else 'NOT flat'}); [{day}-soak.md]({day}-soak.md).",
        ]
    return "\n".join(lines) + "\n"


def _pair(pair: tuple[float, float] | None) -> str:
    return f"{pair[0]:g} / {pair[1]:g} ms" if pair else "–"


def plot(day: str, found: list[Headline], directory: Path) -> None:
    """Two PNGs: throughput (ours and bare, per benchmark) and latency (p50 and p99)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(1, len(found)), figsize=(3.2 * max(1, len(found)), 3.4), squeeze=False)
    for ax, h in zip(axes[0], found, strict=False):
        ax.bar(["ours", "bare"], [h.ours, h.bare], color=["tab:blue", "tab:gray"])
        ax.set_title(f"{h.name}\nratio {h.ratio}", fontsize=9)
        ax.set_ylabel(h.unit)
    fig.tight_layout()
    fig.savefig(directory / f"{day}-throughput.png", dpi=80)
    plt.close(fig)
    timed = [h for h in found if h.latency_ms]
    fig, axes = plt.subplots(1, max(1, len(timed)), figsize=(4 * max(1, len(timed)), 3.4), squeeze=False)
    for ax, h in zip(axes[0], timed, strict=False):
        quantiles = list(h.latency_ms)
        ax.bar(
            [i - 0.2 for i in range(len(quantiles))],
            [h.latency_ms[q][0] for q in quantiles],
            0.4,
            label="ours",
        )
        ax.bar(
            [i + 0.2 for i in range(len(quantiles))],
            [h.latency_ms[q][1] for q in quantiles],
            0.4,
            label="bare",
            color="tab:gray",
        )
        ax.set_xticks(range(len(quantiles)), quantiles)
        ax.set_title(h.name, fontsize=9)
        ax.set_ylabel("ms")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / f"{day}-latency.png", dpi=80)
    plt.close(fig)


def write(directory: Path = RESULTS, day: str | None = None) -> Path | None:
    """Write the day's report and plots; None when no benchmark wrote figures that day."""
    day = day or f"{datetime.now(UTC):%Y-%m-%d}"
    found = headlines(day, directory)
    if not found:
        return None
    plot(day, found, directory)
    path = directory / f"{day}.md"
    path.write_text(markdown(day, found, directory))
    return path

"""Figures, the table `make bench` prints, and docs/benchmarks.md."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Figure:
    section: str
    name: str
    value: float | None
    unit: str
    goal: str = ""
    met: bool | None = None  # None: no goal, or not measurable in this run
    peer: float | None = None  # the same figure for the tool teams use today, where there is one
    note: str = ""

    @property
    def ratio(self) -> str:
        if self.peer is None or not self.value:
            return ""
        return f"{self.peer / self.value:.1f}x"

    def shown(self, number: float | None) -> str:
        if number is None:
            return "n/a"
        if abs(number) >= 100:
            return f"{number:,.0f} {self.unit}".strip()
        return f"{number:.3g} {self.unit}".strip()

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: ""}[self.met]


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def machine() -> str:
    memory = ""
    try:
        with Path("/proc/meminfo").open() as meminfo:
            kib = int(meminfo.readline().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{os.cpu_count()} cores{memory}, Python {platform.python_version()}, {system}"


def table(figures: Sequence[Figure]) -> str:
    rows = [("benchmark", "figure", "deploybot", "goal", "peer", "ratio", "")]
    rows += [
        (f.section, f.name, f.shown(f.value), f.goal, f.shown(f.peer) if f.peer is not None else "", f.ratio, f.verdict)
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(figures: Sequence[Figure], command: str, notes: dict[str, str], seconds: float) -> str:
    out = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; the whole run took {seconds:.0f} s.",
        f"Reproduce with `{command}` (each benchmark starts the sandbox in its own process and `deploybot serve`",
        "in another; nothing here touches real Slack or AWS). `make test` runs a tiny smoke version of each.",
        "",
        "| benchmark | figure | deploybot | goal | peer | ratio | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        peer = f.shown(f.peer) if f.peer is not None else ""
        out.append(f"| {f.section} | {f.name} | {f.shown(f.value)} | {f.goal} | {peer} | {f.ratio} | {f.verdict} |")
    out.append("")
    for section in dict.fromkeys(f.section for f in figures):
        out += [f"## {section}", "", notes.get(section, "").strip(), ""]
        for f in (f for f in figures if f.section == section and f.note):
            out.append(f"- {f.name}: {f.note}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    sys.stdout.write(f"wrote {path}\n")

"""`python -m bench [--quick] [--only ack,lag,...] [--out docs/benchmarks.md]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from . import ack, economy, footprint, lag, lag_ecs, scale
from .report import Figure, markdown, table, write

BENCHMARKS = {"ack": ack, "lag": lag, "lag_ecs": lag_ecs, "scale": scale, "economy": economy, "footprint": footprint}


async def run(names: list[str], quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    for name in names:
        sys.stdout.write(f"running {name}...\n")
        sys.stdout.flush()
        began = time.perf_counter()
        figures += await BENCHMARKS[name].run(quick)
        sys.stdout.write(f"  {name} took {time.perf_counter() - began:.0f} s\n")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmarks work, proves nothing")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS))
    parser.add_argument("--out", type=Path, help="markdown report (default: docs/benchmarks.md, not with --quick)")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    began = time.perf_counter()
    figures = asyncio.run(run(names, args.quick))
    sys.stdout.write("\n" + table(figures) + "\n")
    out = args.out or (None if args.quick else Path("docs/benchmarks.md"))
    if out is not None:
        notes = {m.SECTION: m.NOTES for m in (BENCHMARKS[n] for n in names)}
        command = "make bench" if set(names) == set(BENCHMARKS) else f"python -m bench --only {','.join(names)}"
        write(out, markdown(figures, command, notes, time.perf_counter() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m soak [--seeds N] [--first S] [--requests K] [--workdir D]`: N seeds from S, each a fresh cluster.

Prints each seed's report (faults by kind, what the people did, every invariant with its count) and a summary;
exits 1 when any invariant was violated. A failing seed is replayed with `--first S --seeds 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .campaign import run


async def main(args: argparse.Namespace) -> int:
    root = Path(args.workdir or tempfile.mkdtemp(prefix="deploybot-soak-"))
    faults: Counter[str] = Counter()
    violated: list[int] = []
    stories = deployments = 0
    began = time.monotonic()
    for seed in range(args.first, args.first + args.seeds):
        sys.stdout.write(f"seed {seed}: running ({args.requests} stories)...\n")
        sys.stdout.flush()
        outcome = await run(seed, args.requests, root / f"seed-{seed}", speed=args.speed)
        sys.stdout.write(outcome.report() + "\n")
        sys.stdout.flush()
        faults.update(outcome.faults)
        stories += outcome.requests
        deployments += outcome.deployments
        if outcome.violations:
            violated.append(seed)
    took = time.monotonic() - began
    sys.stdout.write(
        f"\n{args.seeds} seeds ({args.first}..{args.first + args.seeds - 1}), {stories} stories, {deployments} AWS "
        f"deployments, {sum(faults.values())} faults in {took / 60:.1f} min; logs in {root}\n"
        + "faults: "
        + ", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
        + "\n"
        + (f"VIOLATED in seeds {violated}\n" if violated else "no violations\n")
    )
    return 1 if violated else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--requests", type=int, default=40, help="stories per seed")
    parser.add_argument("--speed", type=float, default=30.0, help="the sandbox's clock against the wall's")
    parser.add_argument("--workdir", help="where the replicas' logs go (default: a new temporary directory)")
    sys.exit(asyncio.run(main(parser.parse_args())))

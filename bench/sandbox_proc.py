"""The sandbox in its own process, with a fleet seeded: `python -m bench.sandbox_proc --fleet 10 ...`
(CodeDeploy's fleet, ECS's own services, or both).

Prints one JSON line (the environment a bot needs, the sandbox's base URL, the fleet) once ready,
then runs until SIGTERM, like `deploybot sandbox`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from sandbox.runner import Sandbox

from . import ecs_fleet
from .fleet import catalog_apps, seed_fleet, write_catalog


async def main(args: argparse.Namespace) -> None:
    box = await Sandbox(speed=args.speed).start()
    box.slack.deliverer.events_url = args.events_url
    minutes = [int(m) for m in args.termination.split(",")]
    configs = args.configs.split(",")
    channels = [box.slack.ws.add_channel(f"C0TEAM{i:03d}", f"team-{i:03d}").id for i in range(args.channels)]
    targets = channels or ["C0DEPLOYS"]
    # CodeDeploy's fleet, then ECS's own services: either or both (a fleet mixing the engines).
    services: list[str] = []
    if args.fleet:
        services = await asyncio.to_thread(seed_fleet, box.aws.client, args.fleet, minutes, configs)
    apps = catalog_apps(services, targets)
    if args.ecs_rolling or args.ecs_native:
        seeded = (box.aws.client, args.ecs_rolling, args.ecs_native)
        ecs = await asyncio.to_thread(ecs_fleet.seed_ecs_fleet, *seeded)
        turn = len(services) % len(targets)  # the channels go on in turn after the CodeDeploy fleet's
        apps |= ecs_fleet.catalog_apps(ecs, targets[turn:] + targets[:turn])
        services += ecs
    write_catalog(Path(args.catalog), apps)
    sys.stdout.write(json.dumps({"env": box.env(), "slack": box.slack.base_url, "services": services}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await box.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--fleet", type=int, default=10)
    parser.add_argument("--termination", default="1", help="termination waits in minutes, cycled over the fleet")
    parser.add_argument(
        "--configs", default="CodeDeployDefault.ECSAllAtOnce", help="deployment configurations, cycled over the fleet"
    )
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--channels", type=int, default=0, help="team channels the fleet is spread over (0: #deploys)")
    parser.add_argument("--events-url")
    parser.add_argument("--ecs-rolling", type=int, default=0, help="ECS rolling services (after the --fleet ones)")
    parser.add_argument("--ecs-native", type=int, default=0, help="ECS native blue/green, linear, canary services")
    asyncio.run(main(parser.parse_args()))

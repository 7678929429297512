"""The `deploybot` command: serve (real Slack and AWS), sandbox (local Slack and AWS), demo (both)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from ..domain.catalog import Catalog
from ..domain.errors import ChatError
from ..domain.ports import Faults, no_faults
from .config import (
    INSTALLATION_PER_MINUTE,
    PER_DEPLOYMENT_PER_MINUTE,
    ConfigError,
    Settings,
    load_catalog,
    load_settings,
    parse_catalog,
    settings_catalog,
)
from .logging import configure

log = structlog.get_logger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploybot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the bot against the Slack and AWS named in the environment")
    sub.add_parser("init-store", help="create the store DEPLOYBOT_STORE names (the DynamoDB table; idempotent)")
    audit = sub.add_parser("audit", help="the audit trail in DEPLOYBOT_STORE")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_sub.add_parser("export", help="print every audit entry as JSON lines, oldest first")
    export.add_argument("--app", help="only this app's entries")
    export.add_argument("--since", type=_timestamp, help="only entries at or after this ISO time (UTC if no zone)")
    stats = sub.add_parser("stats", help="the delivery figures of the apps in DEPLOYBOT_STORE (DORA's four)")
    stats.add_argument("--app", help="only this app (default: every app of the catalog)")
    stats.add_argument("--environment", help="only this environment")
    stats.add_argument("--days", type=int, default=30, choices=range(1, 366), metavar="1..365", help="the period")
    stats.add_argument("--json", action="store_true", help="JSON for dashboards (durations in seconds)")
    stats.add_argument("--config", type=Path, help="catalog file (default: DEPLOYBOT_CATALOG, else DEPLOYBOT_CONFIG)")
    req = sub.add_parser("request", help="open a deploy request in Slack from CI (needs DEPLOYBOT_API_TOKEN)")
    req.add_argument("app")
    req.add_argument("version")
    req.add_argument("--environment", help="default: the app's default environment")
    req.add_argument("--actor", default=os.environ.get("GITHUB_ACTOR", ""), help="who (default: $GITHUB_ACTOR)")
    req.add_argument("--commit-url", help="link to the commit being shipped")
    req.add_argument("--run-url", help="link to the CI run")
    req.add_argument("--committed-at", help="the commit's ISO time, with its zone: where its lead time starts")
    req.add_argument("--queue", action="store_true", help="wait in line if the app is busy or locked (no 409)")
    req.add_argument(
        "--url", default=os.environ.get("DEPLOYBOT_URL", "http://127.0.0.1:3000"), help="deploybot's HTTP address"
    )
    check = sub.add_parser("check", help="check the app catalog: errors exit 2, warnings are printed")
    check.add_argument("config", nargs="?", type=Path, help="catalog file (default: DEPLOYBOT_CONFIG)")
    check.add_argument(
        "--aws",
        action="store_true",
        help="also check every app against AWS and Slack with read-only calls (exit 2 if one cannot deploy)",
    )
    sandbox = sub.add_parser("sandbox", help="run the local Slack workspace and local AWS, print their environment")
    demo = sub.add_parser("demo", help="run the sandbox and the bot (Socket Mode) in one process")
    for p in (sandbox, demo):
        p.add_argument("--slack-port", type=int, default=0, help="port of the local Slack (default: any free one)")
        p.add_argument("--aws-port", type=int, default=0, help="port of the local AWS (default: any free one)")
        p.add_argument(
            "--speed",
            type=float,
            default=30.0,
            help="simulated seconds per real second (default 30: a 5-minute canary takes 10 s)",
        )
    sandbox.add_argument("--events-url", help="deliver to a bot in HTTP mode at this URL instead of Socket Mode")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "init-store":
            from .stores import init_store, load_store_settings

            sys.stdout.write(init_store(load_store_settings()) + "\n")
            return 0
        if args.command == "request":
            return _run_sync(_ci_request(args))
        if args.command == "audit":
            return _run_sync(_export(args.app, args.since))
        if args.command == "stats":
            from .stats_cli import stats

            catalog = _catalog(args.config)
            return _run_sync(stats(catalog, args.app, args.environment, args.days, args.json))
        if args.command == "check":
            path = args.config or Path(os.environ.get("DEPLOYBOT_CONFIG", "deploybot.yml"))
            catalog = load_catalog(path)
            for warning in catalog.warnings():
                sys.stdout.write(f"warning: {path}: {warning}\n")
            sys.stdout.write(f"{path}: {len(catalog.apps)} app(s) OK\n")
            return _run_sync(_preflight(catalog)) if args.aws else 0
        if args.command == "serve":
            settings = load_settings()
            configure(settings.log_format)
            catalog = settings_catalog(settings)
            return _run(serve(settings, catalog))
        configure("console")
        if args.command == "sandbox":
            return _run(_sandbox(args.slack_port, args.aws_port, args.speed, args.events_url))
        return _run(_demo(args.slack_port, args.aws_port, args.speed))
    except ConfigError as exc:
        sys.stderr.write(f"deploybot: configuration error: {exc}\n")
        return 2


def _catalog(path: Path | None) -> Catalog:
    """The catalog named on the command line, else the one `deploybot serve` would read."""
    if path is None and os.environ.get("DEPLOYBOT_CATALOG"):
        return parse_catalog(os.environ["DEPLOYBOT_CATALOG"], "DEPLOYBOT_CATALOG")
    return load_catalog(path or Path(os.environ.get("DEPLOYBOT_CONFIG", "deploybot.yml")))


def _timestamp(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time such as 2026-11-23T10:00:00Z") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _run_sync(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


async def _export(app: str | None, since: datetime | None) -> int:
    from .stores import load_store_settings, open_store

    store = open_store(load_store_settings())
    try:
        for event in await store.audit_export():
            if (app is None or event.app == app) and (since is None or event.at >= since):
                sys.stdout.write(event.model_dump_json() + "\n")
    finally:
        store.close()
    return 0


async def _preflight(catalog: Catalog) -> int:
    from .checks import preflight

    return await preflight(catalog, sys.stdout)


async def _ci_request(args: argparse.Namespace) -> int:
    import aiohttp

    token = os.environ.get("DEPLOYBOT_API_TOKEN", "")
    if not token:
        sys.stderr.write("deploybot: set DEPLOYBOT_API_TOKEN to the token deploybot serve was given\n")
        return 2
    body = {
        "app": args.app,
        "version": args.version,
        "environment": args.environment,
        "actor": args.actor or "ci",
        "commit_url": args.commit_url,
        "run_url": args.run_url,
        "committed_at": args.committed_at,
        "queue": args.queue,
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
            session.post(
                f"{args.url.rstrip('/')}/api/requests", json=body, headers={"Authorization": f"Bearer {token}"}
            ) as resp,
        ):
            answer = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        sys.stderr.write(f"deploybot: could not reach {args.url}: {exc}\n")
        return 1
    if not answer.get("ok"):
        sys.stderr.write(f"deploybot: refused: {answer.get('message') or answer.get('error')}\n")
        return 1
    sys.stdout.write(f"{answer.get('message', '')}\nrequest {answer.get('request_id')}: {answer.get('thread')}\n")
    return 0


def _run(coro: object) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(coro)  # type: ignore[arg-type]
    return 0


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(settings: Settings, catalog: Catalog, faults: Faults = no_faults) -> None:
    """`deploybot serve` until SIGINT or SIGTERM (``faults``: the hook a test's launcher passes in)."""
    from ..app import Runtime

    runtime = Runtime(settings, catalog, faults=faults)
    try:
        await runtime.start()
    except ChatError as exc:
        sys.stderr.write(f"deploybot: Slack refused the bot token ({exc.code}); check SLACK_BOT_TOKEN.\n")
        await runtime.stop()
        raise SystemExit(1) from None
    try:
        await _until_stopped()
    finally:
        await runtime.stop()


def _sandbox_module() -> Any:
    """The embedded sandbox (a package beside ``bot``); the production image leaves it out."""
    try:
        import sandbox.runner  # noqa: TID251 - only the sandbox and demo commands start it, from a checkout
    except ImportError as exc:
        raise ConfigError(
            f"the sandbox is not installed here ({exc}); it comes with a source checkout "
            "(`make demo`), not with the production image"
        ) from None
    return sandbox.runner


async def _sandbox(slack_port: int, aws_port: int, speed: float, events_url: str | None) -> None:
    box = await _sandbox_module().Sandbox(slack_port=slack_port, aws_port=aws_port, speed=speed).start()
    box.slack.deliverer.events_url = events_url
    for name, value in box.env().items():
        sys.stdout.write(f"export {name}={value}\n")
    sys.stdout.write(f"# Open the sandbox workspace: {box.slack.base_url}/\n")
    sys.stdout.flush()
    try:
        await _until_stopped()
    finally:
        await box.stop()


def _on_the_sandbox_clock(speed: float) -> dict[str, str]:
    """The demo's bot lives on the sandbox's clock, ``speed`` times faster than the wall: what is meant
    in real seconds (leases renewed every poll, an approval a person has ten minutes to give) is scaled."""
    return {
        "DEPLOYBOT_LEASE_SECONDS": f"{30 * speed:g}",
        "DEPLOYBOT_STARTING_GRACE_SECONDS": f"{60 * speed:g}",
        "DEPLOYBOT_APPROVAL_TIMEOUT_MINUTES": f"{max(120.0, 10 * speed):g}",
        # Reads a minute of the sandbox's clock, not of ours: the deployments run ``speed`` times faster.
        "DEPLOYBOT_READS_PER_MINUTE": f"{INSTALLATION_PER_MINUTE * speed:g}",
        "DEPLOYBOT_READS_PER_DEPLOYMENT": f"{PER_DEPLOYMENT_PER_MINUTE * speed:g}",
    }


async def _demo(slack_port: int, aws_port: int, speed: float) -> None:
    from ..app import Runtime

    runner = _sandbox_module()
    box = await runner.Sandbox(slack_port=slack_port, aws_port=aws_port, speed=speed, one_clock=True).start()
    # The sandbox's AWS is new on every run, so the previous demo's records point at nothing: start empty.
    store = Path(".deploybot") / "demo.db"
    for leftover in (store, store.with_name("demo.db-wal"), store.with_name("demo.db-shm")):
        leftover.unlink(missing_ok=True)
    env = {
        **box.env(),
        "DEPLOYBOT_CONFIG": str(runner.CATALOG),
        "DEPLOYBOT_HTTP_HOST": "127.0.0.1",
        "DEPLOYBOT_HTTP_PORT": "0",
        "DEPLOYBOT_POLL_INTERVAL": "1",
        "DEPLOYBOT_LOG_FORMAT": "console",
        "DEPLOYBOT_STORE": f"sqlite:///{store}",
        **_on_the_sandbox_clock(speed),
    }
    os.environ.update(env)
    settings = load_settings()
    runtime = Runtime(settings, load_catalog(settings.config_path), clock=box.now, clock_speed=speed)
    await runtime.start()
    sys.stdout.write(
        "\n  deploybot demo is running.\n"
        f"  Open {box.slack.base_url}/ in a browser, act as alice and type: /deploy web1 v1.2.3\n"
        "  then switch to bob and press Approve. Also try: /deploy web2 v1.2.3 to staging (no approval),\n"
        "  /deploy status, /deploy history web1, /deploy lock web1 maintenance, /deploy help.\n"
        "  Ctrl-C stops everything.\n\n"
    )
    sys.stdout.flush()
    try:
        await _until_stopped()
    finally:
        await runtime.stop()
        await box.stop()

"""Runs moto in this process on 127.0.0.1 with the CodeDeploy simulation grafted on."""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from .moto_ext import CONTROL, Control, advance_all, install
from .seed import ACCOUNT, REGION, seed
from .seed_ecs import role_in, seed_ecs
from .snapshot import Snapshot

DUMMY_KEY = "testing"
TICK = 0.1  # seconds between catching up with a running clock


class LocalAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint = ""
        self.control: Control = CONTROL
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._session = boto3.session.Session()
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._seeded: Snapshot | None = None

    def start(self) -> LocalAws:
        install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the demo
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # Real deployments progress (and emit their events) whether or not anyone asks; with a running
        # clock the simulation catches up every TICK instead of only when called.
        self._ticker = threading.Thread(target=self._tick, name="sandbox-aws-clock", daemon=True)
        self._ticker.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            if not CONTROL.clock.manual:
                advance_all()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self._server.stop()

    def stats(self) -> dict[str, Any]:
        """deploybot's own AWS calls and every deployment status change, each with its wall-clock time."""
        # Snapshots first: moto's request threads count calls without the lock (a copy is one step under
        # the GIL; iterating the live Counter while a call is counted raised "changed size during iteration").
        with CONTROL.lock:
            log, transitions, counted = list(CONTROL.bot_log), list(CONTROL.transitions), CONTROL.agent_calls.copy()
        calls = [{"at": at, "service": service, "op": op} for at, service, op in log]
        changes = [{"deployment_id": d, "status": s, "at": at} for d, s, at in transitions]
        agents = [{"agent": a, "service": sv, "op": op, "calls": n} for (a, sv, op), n in counted.items()]
        return {"aws_calls": calls, "transitions": changes, "agent_calls": agents}

    def client(self, service: str, region: str = REGION, account: str = ACCOUNT) -> Any:
        """A client of the local AWS, in the sandbox's own account or (through the role deploybot assumes
        there) in another one. Made once: clients are slow to make, and thread-safe to use."""
        with self._lock:
            found = self._clients.get((service, region, account))
            if found is None:
                keys = {"aws_access_key_id": DUMMY_KEY, "aws_secret_access_key": DUMMY_KEY}
                if account != ACCOUNT:
                    keys = self._assumed(account)
                # Any service a test or benchmark names: the typed overloads only take literal names.
                session: Any = self._session
                found = self._clients[(service, region, account)] = session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
                    **keys,
                )
            return found

    def _assumed(self, account: str) -> dict[str, str]:
        sts: Any = self._session.client(
            "sts",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=DUMMY_KEY,
            aws_secret_access_key=DUMMY_KEY,
        )
        creds = sts.assume_role(RoleArn=role_in(account), RoleSessionName="sandbox-seed")["Credentials"]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def seed(self) -> None:
        seed(self.client)
        seed_ecs(self.client)

    def reset(self) -> None:
        """Drop every resource and fault, then seed again: the first time by moto's own reset and the seed
        calls, after that by putting back the copy of the backends taken just after that first seed."""
        with self._lock:  # assumed roles made since are gone: their clients would land in the home account
            self._clients = {k: v for k, v in self._clients.items() if k[2] == ACCOUNT}
        CONTROL.reset_faults()
        if self._seeded is not None:
            self._seeded.restore()
            return
        import requests  # moto[server] depends on requests; only the sandbox uses it

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        self.seed()
        self._seeded = Snapshot.take()

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        }

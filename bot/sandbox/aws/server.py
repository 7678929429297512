"""Runs moto in this process on 127.0.0.1 with the CodeDeploy simulation grafted on."""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from .moto_ext import CONTROL, Control, install
from .seed import REGION, seed

DUMMY_KEY = "testing"


class LocalAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint = ""
        self.control: Control = CONTROL

    def start(self) -> LocalAws:
        install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the demo
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=DUMMY_KEY,
            aws_secret_access_key=DUMMY_KEY,
            config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
        )

    def seed(self) -> None:
        seed(self.client)

    def reset(self) -> None:
        """Drop every resource and fault (moto's own reset), then seed again."""
        import requests  # moto[server] depends on requests; only the sandbox uses it

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        CONTROL.reset_faults()
        self.seed()

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        }

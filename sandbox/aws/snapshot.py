"""A copy of moto's backends just after seeding, put back in place of seeding again.

Seeding is some 130 AWS calls through moto's HTTP server (about a second); the tests reset the local AWS
before each scenario, so they restore this copy instead (a tenth of that). The copy is taken from the
backends themselves, so the simulation state kept on them (and the fault switches seeding sets on
``CONTROL``) come back exactly as a fresh seed leaves them.
"""

from __future__ import annotations

import copy
import copyreg
import threading
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import BackendDict, backend_lock
from moto.core.model_instances import reset_model_data

from .control import CONTROL
from .simulation import HookFailure

# Some backends hold locks (ECR's scanning configuration, SQS queues): a copy gets a lock of its own. A
# Condition is made anew whole: copied, its bound lock methods would still point at the original's lock.
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))
copyreg.pickle(type(threading.Lock()), lambda _lock: (threading.Lock, ()))
copyreg.pickle(threading.Condition, lambda _condition: (threading.Condition, ()))


def _live() -> list[BackendDict[Any]]:
    """The backends in use: moto keeps them only in this class-level list (what its own reset walks)."""
    live: list[BackendDict[Any]] = BackendDict._instances  # type: ignore[misc]  # typed per instance by moto
    return live


@dataclass(frozen=True)
class Snapshot:
    backends: list[tuple[BackendDict[Any], dict[str, dict[str, Any]]]]
    image_failures: dict[str, HookFailure]

    @classmethod
    def take(cls) -> Snapshot:
        with backend_lock, CONTROL.lock:
            backends = [
                (bd, {account: {region: copy.deepcopy(b) for region, b in per.items()} for account, per in bd.items()})
                for bd in list(_live())
            ]
            return cls(backends, dict(CONTROL.image_failures))

    def restore(self) -> None:
        """Every backend as it was when taken; backends made since (a test's DynamoDB table) are dropped."""
        with backend_lock, CONTROL.lock:
            for bd in _live():
                dict.clear(bd)
            _live().clear()
            reset_model_data()
            for bd, accounts in self.backends:
                for account, regions in accounts.items():
                    per = bd[account]  # registers bd as in use again, as moto does on first access
                    for region, backend in regions.items():
                        dict.__setitem__(per, region, copy.deepcopy(backend))
            CONTROL.image_failures.update(self.image_failures)

"""The objects handlers need, bundled so the composition root can hand them over in one piece."""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import Catalog
from .deployer import Deployer
from .holds import Holds
from .reports import Reports
from .tasks import TaskSupervisor


@dataclass(frozen=True)
class Services:
    catalog: Catalog
    deployer: Deployer
    tasks: TaskSupervisor
    reports: Reports
    holds: Holds

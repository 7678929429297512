"""What the handlers call, bundled so the composition root hands it over in one piece."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.catalog import Catalog
from ..runtime.tasks import TaskSupervisor
from .clicks import Clicks
from .dialog import Dialog
from .freezing import Freezes
from .holding import Holding
from .holds import Holds
from .home import Home
from .reports import Reports
from .requests import Requests


@dataclass(frozen=True)
class Services:
    catalog: Catalog
    requests: Requests
    clicks: Clicks
    reports: Reports
    holds: Holds
    freezes: Freezes
    tasks: TaskSupervisor
    holding: Holding
    home: Home
    dialog: Dialog

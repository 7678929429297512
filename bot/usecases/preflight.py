"""The preflight: every app and environment of the catalog checked against AWS (through the
ServiceInspector port) and Slack (the Chat port), with read-only calls, before anyone types /deploy.

`deploybot check --aws` prints it; `deploybot serve` runs it once at start-up and logs what it finds as
warnings (a bad entry never stops the others from deploying)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..domain.catalog import AppConfig, Catalog
from ..domain.ports import Chat, ServiceInspector
from ..domain.preflight import Check

AT_ONCE = 8  # apps checked concurrently: a few hundred calls spread over AWS's and Slack's read limits


class Preflight:
    def __init__(self, catalog: Catalog, inspector: ServiceInspector, chat: Chat | None) -> None:
        self.catalog = catalog
        self.inspector = inspector
        self.chat = chat  # None: Slack is not checked (no token was given)
        self._asked: dict[str, asyncio.Task[str | None]] = {}

    async def run(self) -> list[Check]:
        gate = asyncio.Semaphore(AT_ONCE)

        async def one(app: AppConfig) -> Check:
            async with gate:
                return await self.check(app)

        return list(await asyncio.gather(*(one(app) for app in self.catalog.all())))

    async def check(self, app: AppConfig) -> Check:
        found = await self.inspector.inspect(app)
        if self.chat is None:
            return found
        problems: list[str] = []
        warnings: list[str] = []
        channels = {"deploy_channel": app.deploy_channel, "alert_channel": app.alert_channel}
        channels.update({f"request_channels[{i}]": c for i, c in enumerate(app.request_channels)})
        for field, channel in channels.items():
            problem = await self._once(f"c:{channel}", self.chat.channel_problem, channel)
            if problem:
                problems.append(f"{field}: {problem}")
        # A group that cannot be read counts as empty (fail closed): a problem when nobody else is named.
        sides = [("approvers", app.approvers, app.require_approval)]
        if app.requesters is not None:
            sides.append(("requesters", app.requesters, True))
        for side, people, needed in sides:
            for group in people.usergroups:
                problem = await self._once(f"g:{group}", self.chat.group_problem, group)
                if problem:
                    stuck = needed and not people.users
                    (problems if stuck else warnings).append(f"{side}: {problem}")
        if app.oncall and app.oncall.startswith("S"):
            problem = await self._once(f"g:{app.oncall}", self.chat.group_problem, app.oncall)
            if problem:
                warnings.append(f"oncall: {problem}")
        return found.plus(problems, warnings)

    async def _once(self, key: str, ask: Callable[[str], Awaitable[str | None]], what: str) -> str | None:
        """Each channel and group is asked about once, however many apps name it."""
        task = self._asked.get(key)
        if task is None:
            task = self._asked[key] = asyncio.ensure_future(ask(what))
        return await task

"""When each followed deployment is next worth reading.

Every deployment is read once a *pace*: as often as the read budget affords for all of them together
(one call reads many), never more often than the shortest gap. Two things bring a read forward:

- a moment the engine's own schedule names (a traffic step, the end of a bake or a termination wait, a
  gate's timeout, deploybot's own deadline): the deployment is read just after it, then at every chance
  for a short while until the change shows;
- a change just seen: changes come in runs (one step ends, the next begins, a failure follows a start),
  so a deployment that moved is read again soon.

Times here are the event loop's seconds; the watcher converts the engine's moments into them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable

HOVER = 30.0  # seconds after a predicted moment during which the deployment is read at every chance
MARGIN = 0.2  # seconds after a predicted moment before the first read: the engine acts on its own tick
AFTER_CHANGE = 2.0  # gaps: how soon a deployment that just moved is read again


class ReadSchedule:
    def __init__(self, shortest_gap: float) -> None:
        self.shortest_gap = shortest_gap
        self._due: dict[str, float] = {}

    def due(self, key: str, now: float) -> float:
        """When ``key`` is next to be read (a deployment never read: now)."""
        return self._due.get(key, now)

    def pick(self, keys: Iterable[str], now: float, pace: float) -> list[str]:
        """The deployments to read now, most overdue first: none unless one is due; then every one due
        within half a pace as well (they would be due before the next read anyway, and one call reads
        many)."""
        ordered = sorted(keys, key=lambda k: self.due(k, now))
        if not ordered or self.due(ordered[0], now) > now:
            return []
        return [k for k in ordered if self.due(k, now) <= now + pace / 2]

    def fill(
        self, picked: list[str], keys: Iterable[str], batch: Callable[[str], tuple[str, int]], now: float
    ) -> list[str]:
        """``picked``, and in the room its calls leave (``batch``: which keys one call reads together, and
        how many) the next ones due of those ``keys``: one call reads many, so a read that costs nothing
        more is made early, and the passes that follow have fewer to read."""
        counts = Counter(batch(k) for k in picked)
        room = {group: math.ceil(n / group[1]) * group[1] - n for group, n in counts.items()}
        out = list(picked)
        for key in sorted(set(keys) - set(picked), key=lambda k: self.due(k, now)):
            group = batch(key)
            if room.get(group, 0) > 0:
                out.append(key)
                room[group] -= 1
        return out

    def next_at(self, keys: Iterable[str], now: float) -> float | None:
        """When the first of ``keys`` is due (None: nothing to read)."""
        return min((self.due(k, now) for k in keys), default=None)

    def read(self, key: str, now: float, pace: float, *, changed: bool, moment: float | None) -> float:
        """``key`` was read at ``now``: when to read it next. ``moment``: when its engine next changes it
        by its own schedule, if known."""
        gap = max(self.shortest_gap, pace)
        due = now + gap
        if changed:
            due = min(due, now + max(self.shortest_gap, AFTER_CHANGE * self.shortest_gap))
        if moment is not None:
            if moment > now:
                due = min(due, moment + min(MARGIN, gap))
            elif now - moment < HOVER:
                due = min(due, now + self.shortest_gap)
        self._due[key] = due
        return due

    def bring_forward(self, key: str) -> None:
        """Read ``key`` at the next chance (an event said it changed)."""
        self._due[key] = float("-inf")

    def keep(self, keys: Collection[str]) -> None:
        """Forget every deployment but ``keys`` (the ones still followed)."""
        for gone in self._due.keys() - set(keys):
            del self._due[gone]


def status_calls(keys: Iterable[str], batch: Callable[[str], tuple[str, int]]) -> int:
    """The status calls reading ``keys`` costs (``batch``: which keys one call reads together, and how many)."""
    counts = Counter(batch(k) for k in keys)
    return sum(math.ceil(n / group[1]) for group, n in counts.items())


def affordable(keys: list[str], batch: Callable[[str], tuple[str, int]], budget: int) -> list[str]:
    """The first of ``keys`` that ``budget`` status calls read."""
    counts: Counter[tuple[str, int]] = Counter()
    spent = 0
    for i, key in enumerate(keys):
        group = batch(key)
        if counts[group] % group[1] == 0:  # this one opens a new call
            if spent == budget:
                return keys[:i]
            spent += 1
        counts[group] += 1
    return keys

"""What can happen to the engines' state-change events between EventBridge and the queue: lost, delivered
twice, late, or after the one that followed them. A plan of faults is applied to the next events, one each
(``EventFaults.plan``); the rest go through as they come. Held events are published by ``release`` once
their time has come on the simulated clock (every call to the local AWS, and every tick of a running clock).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

DELAY = timedelta(seconds=30)  # a late event arrives this long after it happened (simulated time)
KINDS = ("drop", "dup", "delay", "reorder")


@dataclass(eq=False)
class _Held:
    backend: Any
    entries: list[dict[str, Any]]
    due: datetime  # when it is published at the latest
    after_next: bool  # published as soon as the next event is: it arrives after it, out of order


@dataclass
class EventFaults:
    plan: deque[str] = field(default_factory=deque)  # the faults for the next events, one each
    applied: dict[str, int] = field(default_factory=dict)  # kind -> how many events it happened to
    _held: list[_Held] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def publish(self, backend: Any, entries: list[dict[str, Any]], now: datetime) -> None:
        """Put ``entries`` on moto's EventBridge ``backend``, or not, as the plan says."""
        with self._lock:
            fault = self.plan.popleft() if self.plan else None
            if fault is not None:
                self.applied[fault] = self.applied.get(fault, 0) + 1
            overtaken = [h for h in self._held if h.after_next]
            self._held = [h for h in self._held if not h.after_next]
            if fault in ("delay", "reorder"):
                self._held.append(_Held(backend, entries, now + DELAY, after_next=fault == "reorder"))
            elif fault != "drop":
                backend.put_events(entries)
                if fault == "dup":
                    backend.put_events(entries)
            for held in overtaken:  # what was held for this one goes after it
                held.backend.put_events(held.entries)

    def release(self, now: datetime, everything: bool = False) -> None:
        """Publish the held events whose time has come (``everything``: all of them, the end of a run)."""
        with self._lock:
            due = [h for h in self._held if everything or h.due <= now]
            self._held = [h for h in self._held if h not in due]
        for held in due:
            held.backend.put_events(held.entries)

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

"""Simulated time shared by the local AWS and the tests.

Two modes: a running clock with a speed factor (the demo compresses minutes into seconds) and a
manual clock that only moves when a test calls ``advance``. Nothing in the sandbox reads the wall
clock directly, so no test ever waits on real minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, *, speed: float = 1.0, manual: bool = False, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._base_sim = start or datetime.now(UTC)
        self._base_real = time.monotonic()
        self._speed = speed
        self._manual = manual
        self._listeners: list[Callable[[], None]] = []

    @property
    def manual(self) -> bool:
        return self._manual

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        if self._manual:
            return self._base_sim
        elapsed = (time.monotonic() - self._base_real) * self._speed
        return self._base_sim + timedelta(seconds=elapsed)

    def _rebase_locked(self) -> None:
        self._base_sim = self._now_locked()
        self._base_real = time.monotonic()

    def configure(self, *, speed: float | None = None, manual: bool | None = None) -> None:
        with self._lock:
            self._rebase_locked()
            if speed is not None:
                if speed <= 0:
                    raise ValueError("speed must be positive")
                self._speed = speed
            if manual is not None:
                self._manual = manual
        self._notify()

    def advance(self, seconds: float) -> datetime:
        """Move simulated time forward (both modes); listeners run so state catches up at once."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._rebase_locked()
            self._base_sim += timedelta(seconds=seconds)
            now = self._base_sim
        self._notify()
        return now

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

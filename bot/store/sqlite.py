"""The embedded store: SQLite in WAL mode, one replica. Every save is a compare-and-set on version."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..domain.audit import AuditEvent
from ..domain.models import Deployment, Hold, State
from ..domain.ports import Clock, StaleRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_state ON deployments(state);
CREATE INDEX IF NOT EXISTS deployments_app ON deployments(app, state);
CREATE TABLE IF NOT EXISTS unsettled (
    id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS locks (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    app TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_record ON audit_log(record_id, seq);
CREATE INDEX IF NOT EXISTS audit_log_app ON audit_log(app, seq);
CREATE TABLE IF NOT EXISTS holds (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""
# Stores made before the audit carried team, channel and AWS request ids kept it in `audit`.
MIGRATE_AUDIT = """
INSERT INTO audit_log (record_id, app, data)
SELECT record_id, '', json_object('at', at, 'record_id', record_id, 'app', '', 'actor', actor, 'action', action,
                                  'detail', json(detail))
FROM audit ORDER BY seq;
DROP TABLE audit;
"""
IN_FLIGHT = tuple(s.value for s in State if s.in_flight)


class SqliteStore:
    def __init__(self, path: str, clock: Clock | None = None) -> None:
        self.path = path
        # Leases are written from the bot's clock, so they are checked against the same one.
        self.now: Clock = clock or (lambda: datetime.now(UTC))
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        if self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit'").fetchone():
            self._db.executescript("BEGIN IMMEDIATE;" + MIGRATE_AUDIT + "COMMIT;")
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, clock: Clock | None = None) -> SqliteStore:
        """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` or `sqlite://:memory:`."""
        if url == "sqlite://:memory:":
            return cls(":memory:", clock)
        if not url.startswith("sqlite:///") or url == "sqlite:///":
            raise ValueError(f"unsupported store URL {url!r}: use sqlite:///path/to/deploybot.db")
        return cls(url.removeprefix("sqlite:///"), clock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            with self._lock:
                cur = self._db.execute(sql, params)
                rows = cur.fetchall()
                self._changes = cur.rowcount
                return rows

        return await asyncio.to_thread(work)

    async def create(self, record: Deployment) -> Deployment:
        record = record.model_copy(update={"version": 1})
        try:
            await self._run(
                "INSERT INTO deployments (id, app, state, version, data) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.app, record.state.value, 1, record.model_dump_json()),
            )
        except sqlite3.IntegrityError as exc:
            raise StaleRecord(record.id) from exc  # that id exists already
        if record.watched:  # watched from its first moment: it may never be saved again (its maker died)
            await self._run("INSERT OR IGNORE INTO unsettled (id) VALUES (?)", (record.id,))
        return record

    async def get(self, record_id: str) -> Deployment | None:
        rows = await self._run("SELECT data FROM deployments WHERE id = ?", (record_id,))
        return Deployment.model_validate_json(rows[0][0]) if rows else None

    async def save(self, record: Deployment) -> Deployment:
        new = record.model_copy(update={"version": record.version + 1})

        def work() -> int:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    cur = self._db.execute(
                        "UPDATE deployments SET state = ?, version = ?, data = ? WHERE id = ? AND version = ?",
                        (new.state.value, new.version, new.model_dump_json(), record.id, record.version),
                    )
                    if cur.rowcount == 1 and new.watched:
                        self._db.execute("INSERT OR IGNORE INTO unsettled (id) VALUES (?)", (new.id,))
                    elif cur.rowcount == 1:
                        self._db.execute("DELETE FROM unsettled WHERE id = ?", (new.id,))
                    return cur.rowcount
                finally:
                    self._db.execute("COMMIT")

        if await asyncio.to_thread(work) != 1:
            raise StaleRecord(record.id)
        return new

    async def in_flight(self) -> list[Deployment]:
        """Records still in flight, and finished ones whose last words have not reached Slack."""
        marks = ",".join("?" * len(IN_FLIGHT))
        rows = await self._run(
            f"SELECT data FROM deployments WHERE state IN ({marks}) OR id IN (SELECT id FROM unsettled)",  # noqa: S608 - placeholders only
            IN_FLIGHT,
        )
        return [Deployment.model_validate_json(r[0]) for r in rows]

    async def history(self, app: str, environment: str, limit: int) -> list[Deployment]:
        rows = await self._run("SELECT data FROM deployments WHERE app = ? ORDER BY rowid DESC", (app,))
        found = (Deployment.model_validate_json(r[0]) for r in rows)
        return [r for r in found if r.environment == environment][:limit]

    async def acquire_lock(self, key: str, owner: str, until: datetime) -> str | None:
        now = self.now().timestamp()

        def work() -> str | None:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute("SELECT owner, lease_until FROM locks WHERE key = ?", (key,)).fetchone()
                    if row and row[0] != owner and row[1] > now:
                        return str(row[0])
                    self._db.execute(
                        "INSERT OR REPLACE INTO locks (key, owner, lease_until) VALUES (?, ?, ?)",
                        (key, owner, until.timestamp()),
                    )
                    return None
                finally:
                    self._db.execute("COMMIT")

        return await asyncio.to_thread(work)

    async def renew_lock(self, key: str, owner: str, until: datetime) -> bool:
        def work() -> bool:
            with self._lock:
                cur = self._db.execute(
                    "UPDATE locks SET lease_until = ? WHERE key = ? AND owner = ?", (until.timestamp(), key, owner)
                )
                return cur.rowcount == 1

        return await asyncio.to_thread(work)

    async def release_lock(self, key: str, owner: str) -> None:
        await self._run("DELETE FROM locks WHERE key = ? AND owner = ?", (key, owner))

    async def hold(self, hold: Hold) -> Hold | None:
        def work() -> str | None:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute("SELECT data FROM holds WHERE key = ?", (hold.key,)).fetchone()
                    if row:
                        return str(row[0])
                    self._db.execute("INSERT INTO holds (key, data) VALUES (?, ?)", (hold.key, hold.model_dump_json()))
                    return None
                finally:
                    self._db.execute("COMMIT")

        existing = await asyncio.to_thread(work)
        return Hold.model_validate_json(existing) if existing else None

    async def update_hold(self, hold: Hold) -> None:
        await self._run("UPDATE holds SET data = ? WHERE key = ?", (hold.model_dump_json(), hold.key))

    async def get_hold(self, key: str) -> Hold | None:
        rows = await self._run("SELECT data FROM holds WHERE key = ?", (key,))
        return Hold.model_validate_json(rows[0][0]) if rows else None

    async def release_hold(self, key: str) -> Hold | None:
        rows = await self._run("DELETE FROM holds WHERE key = ? RETURNING data", (key,))
        return Hold.model_validate_json(rows[0][0]) if rows else None

    async def holds(self) -> list[Hold]:
        return [Hold.model_validate_json(r[0]) for r in await self._run("SELECT data FROM holds ORDER BY key")]

    async def audit(self, event: AuditEvent) -> None:
        await self._run(
            "INSERT INTO audit_log (record_id, app, data) VALUES (?, ?, ?)",
            (event.record_id, event.app, event.model_dump_json()),
        )

    async def audit_log(self, record_id: str) -> list[AuditEvent]:
        rows = await self._run("SELECT data FROM audit_log WHERE record_id = ? ORDER BY seq", (record_id,))
        return [AuditEvent.model_validate_json(r[0]) for r in rows]

    async def audit_for_app(self, app: str, limit: int) -> list[AuditEvent]:
        rows = await self._run("SELECT data FROM audit_log WHERE app = ? ORDER BY seq DESC LIMIT ?", (app, limit))
        return [AuditEvent.model_validate_json(r[0]) for r in rows]

    async def audit_export(self) -> list[AuditEvent]:
        rows = await self._run("SELECT data FROM audit_log ORDER BY seq")
        return [AuditEvent.model_validate_json(r[0]) for r in rows]

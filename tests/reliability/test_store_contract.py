"""Both stores keep the same promises: compare-and-set on version, in-flight listing, audit trail."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import audit
from bot.domain.models import Hold, State
from bot.domain.ports import StaleRecord, Store
from bot.runtime.config import ConfigError
from bot.runtime.stores import StoreSettings, init_store, open_store
from bot.store.sqlite import SqliteStore
from sandbox.aws.server import LocalAws
from tests.unit.factories import record


@pytest.fixture(params=["sqlite", "dynamodb"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Store]:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    if request.param == "sqlite":
        settings = StoreSettings(store_url=f"sqlite:///{tmp_path / 'x.db'}")
    else:
        settings = StoreSettings(store_url="dynamodb://deploybot-test", aws_endpoint_url=aws.endpoint, replicas=3)
        init_store(settings)
    opened = open_store(settings, CLOCK)
    yield opened
    opened.close()


class SettableClock:
    """The bot's clock as the stores see it; the wall clock unless a test moves it (the demo's is faster)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


CLOCK = SettableClock()


@pytest.fixture(autouse=True)
def _wall_clock() -> None:
    CLOCK.offset = timedelta(0)


async def test_compare_and_set(store: Store) -> None:
    created = await store.create(record(id="r-a"))
    assert created.version == 1
    saved = await store.save(created.model_copy(update={"state": State.STARTING, "approver": "U0BOB"}))
    assert saved.version == 2
    with pytest.raises(StaleRecord):
        await store.save(created.model_copy(update={"state": State.CANCELLED}))  # based on version 1
    fresh = await store.get("r-a")
    assert fresh is not None and fresh.state is State.STARTING and fresh.approver == "U0BOB"
    assert await store.get("r-missing") is None


async def test_racing_writers_exactly_one_wins(store: Store) -> None:
    base = await store.create(record(id="r-race"))
    results = await asyncio.gather(
        *(store.save(base.model_copy(update={"state": State.STARTING, "approver": f"U{i}"})) for i in range(10)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, StaleRecord) for r in results if isinstance(r, BaseException))


async def test_in_flight(store: Store) -> None:
    await store.create(record(id="r-1", state=State.IN_PROGRESS))
    await store.create(record(id="r-2", app="web2", state=State.PENDING_APPROVAL))
    done = await store.create(record(id="r-3", app="web2", state=State.IN_PROGRESS))
    done = await store.save(done.model_copy(update={"state": State.SUCCEEDED}))
    # Finished but not yet told in Slack: still the watcher's business.
    assert {r.id for r in await store.in_flight()} == {"r-1", "r-3"}
    await store.save(done.model_copy(update={"settled": True}))
    assert {r.id for r in await store.in_flight()} == {"r-1"}
    # A request that will expire, or a request in line, is watched from its creation on, even if it is never
    # saved again (its maker died before posting it): found by the fault campaign.
    expiring = record(id="r-4", app="shop", state=State.PENDING_APPROVAL, expires_at=record().created_at)
    await store.create(expiring)
    await store.create(record(id="r-5", app="api", state=State.QUEUED))
    assert {r.id for r in await store.in_flight()} == {"r-1", "r-4", "r-5"}


async def test_app_lock_has_one_owner_and_a_lease(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    soon = datetime.now(UTC) + timedelta(minutes=10)
    assert await store.acquire_lock("web1", "r-1", soon) is None
    assert await store.acquire_lock("web1", "r-1", soon) is None  # the owner may take it again
    assert await store.acquire_lock("web1", "r-2", soon) == "r-1"
    assert await store.acquire_lock("web2", "r-2", soon) is None  # locks are per app
    assert await store.renew_lock("web1", "r-1", soon) and not await store.renew_lock("web1", "r-2", soon)
    await store.release_lock("web1", "r-2")  # not the owner: nothing happens
    assert await store.acquire_lock("web1", "r-3", soon) == "r-1"
    await store.release_lock("web1", "r-1")
    assert await store.acquire_lock("web1", "r-3", soon) is None
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert await store.renew_lock("web1", "r-3", past)  # r-3's lease has run out ...
    assert await store.acquire_lock("web1", "r-4", soon) is None  # ... so r-4 takes over
    results = await asyncio.gather(*(store.acquire_lock("web9", f"r-{i}", soon) for i in range(10)))
    assert sum(r is None for r in results) == 1


async def test_a_lease_runs_out_on_the_bots_clock_not_the_wall_clock(store: Store) -> None:
    # In the demo the bot's clock runs 30x faster: a lease written from it must also end by it.
    CLOCK.offset = timedelta(hours=6)
    lease = CLOCK() + timedelta(seconds=30)
    assert await store.acquire_lock("web1", "r-1", lease) is None
    assert await store.acquire_lock("web1", "r-2", lease) == "r-1"  # held: 30 s left on the bot's clock
    CLOCK.offset += timedelta(seconds=31)
    assert await store.acquire_lock("web1", "r-2", CLOCK() + timedelta(seconds=30)) is None  # ran out by it


async def test_audit_is_append_only_ordered_and_per_app(store: Store) -> None:
    await store.create(record(id="r-audit"))
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    audit.begin("T0SANDBOX", "C0DEPLOYS")
    await store.audit(audit.event(t0, "r-audit", "web1", "U0ALICE", "requested", tag="v1.2.3"))
    audit.note_aws_request("aws-req-1")
    await store.audit(audit.event(t0 + timedelta(seconds=1), "r-audit", "web1", "U0BOB", "approved"))
    await store.audit(audit.event(t0 + timedelta(seconds=2), "r-other", "web2", "U0BOB", "approved"))
    log = await store.audit_log("r-audit")
    assert [(e.actor, e.action) for e in log] == [("U0ALICE", "requested"), ("U0BOB", "approved")]
    assert log[0].detail == {"tag": "v1.2.3"} and log[0].team == "T0SANDBOX" and log[0].channel == "C0DEPLOYS"
    assert log[0].aws_request_ids == [] and log[1].aws_request_ids == ["aws-req-1"]
    assert [e.action for e in await store.audit_for_app("web1", 1)] == ["approved"]  # newest first
    assert [e.record_id for e in await store.audit_for_app("web2", 10)] == ["r-other"]
    assert [e.at for e in await store.audit_export()] == [t0 + timedelta(seconds=i) for i in range(3)]


async def test_sqlite_moves_an_older_audit_table_over(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, at TEXT NOT NULL,"
            " actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO audit (record_id, at, actor, action, detail) VALUES "
            "('r-1', '2026-11-20T10:00:00+00:00', 'U0BOB', 'approved', '{\"x\": 1}')"
        )
    store = SqliteStore(str(path))
    [entry] = await store.audit_log("r-1")
    assert (entry.actor, entry.action, entry.detail) == ("U0BOB", "approved", {"x": 1})
    store.close()


def test_sqlite_refuses_several_replicas(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="one replica only"):
        open_store(StoreSettings(store_url=f"sqlite:///{tmp_path / 'x.db'}", replicas=2))
    with pytest.raises(ConfigError, match="not supported"):
        open_store(StoreSettings(store_url="postgres://x"))


def test_init_store_command_is_idempotent(aws: LocalAws) -> None:
    env = {**os.environ, **aws.env(), "DEPLOYBOT_STORE": "dynamodb://deploybot-cli"}
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "bot", "init-store"], env=env, capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outputs == ["DynamoDB table deploybot-cli created", "DynamoDB table deploybot-cli already exists"]


def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.store.sqlite import SqliteStore

    monkeypatch.chdir(tmp_path)
    relative = SqliteStore.from_url("sqlite:///data/deploybot.db")  # three slashes: relative
    absolute = SqliteStore.from_url(f"sqlite:///{tmp_path / 'abs.db'}")  # four: absolute
    assert (tmp_path / "data" / "deploybot.db").exists() and (tmp_path / "abs.db").exists()
    relative.close()
    absolute.close()
    SqliteStore.from_url("sqlite://:memory:").close()
    with pytest.raises(ValueError, match="unsupported"):
        SqliteStore.from_url("sqlite:///")


async def test_init_store_adds_the_audit_index_to_an_older_table(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    ddb = aws.client("dynamodb")
    ddb.create_table(  # the layout before the audit index existed
        TableName="deploybot-old",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["data"]},
            }
        ],
    )
    settings = StoreSettings(store_url="dynamodb://deploybot-old", aws_endpoint_url=aws.endpoint, replicas=3)
    assert init_store(settings) == "DynamoDB table deploybot-old already exists"
    indexes = {i["IndexName"] for i in ddb.describe_table(TableName="deploybot-old")["Table"]["GlobalSecondaryIndexes"]}
    assert indexes == {"gsi1", "gsi2"}
    store = open_store(settings)
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    await store.audit(audit.event(t0, "r-1", "web1", "U0BOB", "approved"))
    assert [e.action for e in await store.audit_for_app("web1", 5)] == ["approved"]
    store.close()


async def test_holds_one_per_app_and_environment(store: Store) -> None:
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    bob = Hold(app="web1", environment="production", user="U0BOB", reason="incident 42", since=t0)
    assert await store.hold(bob) is None
    dave = Hold(app="web1", environment="production", user="U0DAVE", since=t0 + timedelta(minutes=1))
    assert await store.hold(dave) == bob  # already held: the first hold stays
    assert await store.hold(Hold(app="web1", environment="staging", user="U0DAVE", since=t0)) is None
    await store.update_hold(bob.model_copy(update={"reminded_at": t0 + timedelta(hours=4)}))
    held = await store.get_hold("web1:production")
    assert held is not None and held.user == "U0BOB" and held.reminded_at == t0 + timedelta(hours=4)
    assert sorted(h.key for h in await store.holds()) == ["web1:production", "web1:staging"]
    released = await store.release_hold("web1:production")
    assert released is not None and released.reason == "incident 42"
    assert await store.release_hold("web1:production") is None
    assert [h.key for h in await store.holds()] == ["web1:staging"]
    assert await store.get_hold("web1:production") is None


async def test_a_freeze_lives_beside_a_lock(store: Store) -> None:
    t0 = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    lock = Hold(app="web1", environment="production", user="U0BOB", since=t0)
    freeze = Hold(
        app="web1", environment="production", user="U0DAVE", since=t0, kind="freeze", until=t0 + timedelta(hours=2)
    )
    assert await store.hold(lock) is None
    assert await store.hold(freeze) is None  # its own key: the lock does not stand in its way
    assert freeze.key == "web1:production#freeze"
    longer = freeze.model_copy(update={"until": t0 + timedelta(hours=5)})
    assert await store.hold(longer) == freeze
    await store.update_hold(longer)
    found = await store.get_hold("web1:production#freeze")
    assert found is not None and found.kind == "freeze" and found.until == t0 + timedelta(hours=5)
    assert sorted((h.key, h.kind) for h in await store.holds()) == [
        ("web1:production", "lock"),
        ("web1:production#freeze", "freeze"),
    ]
    await store.release_hold("web1:production#freeze")
    got = await store.get_hold("web1:production")
    assert got is not None and got.kind == "lock"

"""The shared store for several replicas: one DynamoDB table, every save a conditional write on version.

Layout (one table, created by `deploybot init-store`):

- deployment record: pk `dep#<request id>`, sk `record`; `app`, `state`, `version` (N), `data` (JSON);
  while in flight also `gsi1pk` = `inflight` and `gsi1sk` = `<app>#<request id>`.
- hold (`/deploy lock`): pk `hold#<app>:<environment>`, sk `hold`; `data` (JSON); listed through `gsi1`
  with `gsi1pk` = `holds`.
- lock (one open request per app, one watcher per deployment): pk `lock#<key>`, sk `lock`; `owner`,
  `lease_until` (epoch seconds, compared by the bot).
- audit event: pk `dep#<request id>`, sk `audit#<ISO time>#<random>`; `data` (the event as JSON), and
  `gsi2pk` = `audit#<app>`, `gsi2sk` = `<ISO time>#<random>` so index `gsi2` reads an app's trail newest first.
- deployment records are in `gsi2` as well (`gsi2pk` = `dep#<app>#<environment>`, `gsi2sk` = `<created>#<id>`):
  an app's history in one environment, newest first.

The sparse index `gsi1` (pk `gsi1pk`, sk `gsi1sk`) lists exactly the in-flight deployments, so the
watcher's read is one Query however long the history grows.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError

from ..domain.audit import AuditEvent
from ..domain.models import Deployment, Hold
from ..domain.ports import Clock, StaleRecord
from .calls import USER_AGENT, session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.literals import ProjectionTypeType
    from mypy_boto3_dynamodb.type_defs import GlobalSecondaryIndexTypeDef

INDEX = "gsi1"
AUDIT_INDEX = "gsi2"
IN_FLIGHT = "inflight"
HOLDS = "holds"


class DynamoStore:
    def __init__(self, table: str, region: str, endpoint_url: str | None = None, clock: Clock | None = None) -> None:
        self.table = table
        # Leases are written from the bot's clock, so they are checked against the same one.
        self.now: Clock = clock or (lambda: datetime.now(UTC))
        self.client: DynamoDBClient = session(region).client(
            "dynamodb",
            endpoint_url=endpoint_url,
            config=Config(retries={"mode": "adaptive", "total_max_attempts": 4}, user_agent_extra=USER_AGENT),
        )

    @classmethod
    def from_url(
        cls, url: str, region: str, endpoint_url: str | None = None, clock: Clock | None = None
    ) -> DynamoStore:
        table = url.removeprefix("dynamodb://").strip("/")
        if not table:
            raise ValueError("DEPLOYBOT_STORE=dynamodb://<table name> needs a table name")
        return cls(table, region, endpoint_url, clock)

    def close(self) -> None:
        self.client.close()

    # -- schema ------------------------------------------------------------------------------

    def create_table(self) -> bool:
        """Create the table and its indexes if missing (adding the audit index to an older table)."""
        try:
            self.client.create_table(
                TableName=self.table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": n, "AttributeType": "S"}
                    for n in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                GlobalSecondaryIndexes=[_index(INDEX, "gsi1", "INCLUDE"), _index(AUDIT_INDEX, "gsi2", "INCLUDE")],
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            self._add_audit_index()
            return False
        self.client.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1})
        return True

    def _add_audit_index(self) -> None:
        table = self.client.describe_table(TableName=self.table)["Table"]
        if any(i["IndexName"] == AUDIT_INDEX for i in table.get("GlobalSecondaryIndexes", [])):
            return
        self.client.update_table(
            TableName=self.table,
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("gsi2pk", "gsi2sk")],
            GlobalSecondaryIndexUpdates=[{"Create": _index(AUDIT_INDEX, "gsi2", "INCLUDE")}],
        )

    # -- Store port --------------------------------------------------------------------------

    def _item(self, record: Deployment) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": f"dep#{record.id}"},
            "sk": {"S": "record"},
            "app": {"S": record.app},
            "state": {"S": record.state.value},
            "version": {"N": str(record.version)},
            "data": {"S": record.model_dump_json()},
            # In the audit index too, under its own key, so an app's history is one query.
            "gsi2pk": {"S": f"dep#{record.app}#{record.environment}"},
            "gsi2sk": {"S": f"{record.created_at.isoformat()}#{record.id}"},
        }
        if record.state.in_flight or record.watched:
            item["gsi1pk"] = {"S": IN_FLIGHT}
            item["gsi1sk"] = {"S": f"{record.app}#{record.id}"}
        return item

    async def create(self, record: Deployment) -> Deployment:
        record = record.model_copy(update={"version": 1})
        try:
            await asyncio.to_thread(
                self.client.put_item,
                TableName=self.table,
                Item=self._item(record),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleRecord(record.id) from exc  # that id exists already
            raise
        return record

    async def get(self, record_id: str) -> Deployment | None:
        resp = await asyncio.to_thread(
            self.client.get_item,
            TableName=self.table,
            ConsistentRead=True,
            Key={"pk": {"S": f"dep#{record_id}"}, "sk": {"S": "record"}},
        )
        item = resp.get("Item")
        return Deployment.model_validate_json(item["data"]["S"]) if item else None

    async def save(self, record: Deployment) -> Deployment:
        new = record.model_copy(update={"version": record.version + 1})
        try:
            await asyncio.to_thread(
                self.client.put_item,
                TableName=self.table,
                Item=self._item(new),
                ConditionExpression="#v = :expected",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":expected": {"N": str(record.version)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleRecord(record.id) from exc
            raise
        return new

    async def _in_flight(self) -> list[Deployment]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :f",
            "ExpressionAttributeValues": {":f": {"S": IN_FLIGHT}},
        }
        out: list[Deployment] = []
        while True:
            resp = await asyncio.to_thread(self.client.query, **kwargs)
            out.extend(Deployment.model_validate_json(i["data"]["S"]) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    async def in_flight(self) -> list[Deployment]:
        # The index is eventually consistent, so a record read here may be a version behind. That is
        # safe without re-reading each one (one query per tick, not one read per deployment): every
        # write is a compare-and-set that fails on a stale copy, and the callers then re-read.
        return [r for r in await self._in_flight() if r.state.in_flight or r.watched]

    def _lock_key(self, key: str) -> dict[str, Any]:
        return {"pk": {"S": f"lock#{key}"}, "sk": {"S": "lock"}}

    async def acquire_lock(self, key: str, owner: str, until: datetime) -> str | None:
        now = self.now().timestamp()
        try:
            await asyncio.to_thread(
                self.client.put_item,
                TableName=self.table,
                Item={**self._lock_key(key), "owner": {"S": owner}, "lease_until": {"N": f"{until.timestamp():.3f}"}},
                # Expiry is checked here by the bot, not left to DynamoDB TTL (which may lag by days).
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR #o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":me": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = (
                await asyncio.to_thread(
                    self.client.get_item, TableName=self.table, ConsistentRead=True, Key=self._lock_key(key)
                )
            ).get("Item")
            return str(item["owner"]["S"]) if item else "unknown"
        return None

    async def renew_lock(self, key: str, owner: str, until: datetime) -> bool:
        try:
            await asyncio.to_thread(
                self.client.update_item,
                TableName=self.table,
                Key=self._lock_key(key),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":until": {"N": f"{until.timestamp():.3f}"}, ":me": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def release_lock(self, key: str, owner: str) -> None:
        try:
            await asyncio.to_thread(
                self.client.delete_item,
                TableName=self.table,
                Key=self._lock_key(key),
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _hold_item(self, hold: Hold) -> dict[str, Any]:
        return {
            "pk": {"S": f"hold#{hold.key}"},
            "sk": {"S": "hold"},
            "data": {"S": hold.model_dump_json()},
            "gsi1pk": {"S": HOLDS},  # the in-flight index has room for the few holds too
            "gsi1sk": {"S": hold.key},
        }

    async def hold(self, hold: Hold) -> Hold | None:
        try:
            await asyncio.to_thread(
                self.client.put_item,
                TableName=self.table,
                Item=self._hold_item(hold),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return await self.get_hold(hold.key)
        return None

    async def update_hold(self, hold: Hold) -> None:
        try:
            await asyncio.to_thread(
                self.client.put_item,
                TableName=self.table,
                Item=self._hold_item(hold),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # released meanwhile: nothing to remind of

    async def get_hold(self, key: str) -> Hold | None:
        resp = await asyncio.to_thread(
            self.client.get_item,
            TableName=self.table,
            ConsistentRead=True,
            Key={"pk": {"S": f"hold#{key}"}, "sk": {"S": "hold"}},
        )
        item = resp.get("Item")
        return Hold.model_validate_json(item["data"]["S"]) if item else None

    async def release_hold(self, key: str) -> Hold | None:
        resp = await asyncio.to_thread(
            self.client.delete_item,
            TableName=self.table,
            Key={"pk": {"S": f"hold#{key}"}, "sk": {"S": "hold"}},
            ReturnValues="ALL_OLD",
        )
        item = resp.get("Attributes")
        return Hold.model_validate_json(item["data"]["S"]) if item else None

    async def holds(self) -> list[Hold]:
        resp = await asyncio.to_thread(
            self.client.query,
            TableName=self.table,
            IndexName=INDEX,
            KeyConditionExpression="gsi1pk = :h",
            ExpressionAttributeValues={":h": {"S": HOLDS}},
        )
        return [Hold.model_validate_json(i["data"]["S"]) for i in resp.get("Items", [])]

    async def audit(self, event: AuditEvent) -> None:
        at = event.at.isoformat()
        suffix = f"{at}#{secrets.token_hex(4)}"
        await asyncio.to_thread(
            self.client.put_item,
            TableName=self.table,
            Item={
                "pk": {"S": f"dep#{event.record_id}"},
                "sk": {"S": f"audit#{suffix}"},
                "gsi2pk": {"S": f"audit#{event.app}"},
                "gsi2sk": {"S": suffix},
                "data": {"S": event.model_dump_json()},
            },
            ConditionExpression="attribute_not_exists(sk)",
        )

    async def _query(self, **kwargs: Any) -> list[AuditEvent]:
        out: list[AuditEvent] = []
        while True:
            resp = await asyncio.to_thread(self.client.query, TableName=self.table, **kwargs)
            out.extend(AuditEvent.model_validate_json(i["data"]["S"]) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp or len(out) >= kwargs.get("Limit", len(out) + 1):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    async def history(self, app: str, environment: str, limit: int) -> list[Deployment]:
        resp = await asyncio.to_thread(
            self.client.query,
            TableName=self.table,
            IndexName=AUDIT_INDEX,
            KeyConditionExpression="gsi2pk = :k",
            ExpressionAttributeValues={":k": {"S": f"dep#{app}#{environment}"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Deployment.model_validate_json(i["data"]["S"]) for i in resp.get("Items", [])]

    async def audit_log(self, record_id: str) -> list[AuditEvent]:
        return await self._query(
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
            ExpressionAttributeValues={":pk": {"S": f"dep#{record_id}"}, ":audit": {"S": "audit#"}},
        )

    async def audit_for_app(self, app: str, limit: int) -> list[AuditEvent]:
        return await self._query(
            IndexName=AUDIT_INDEX,
            KeyConditionExpression="gsi2pk = :app",
            ExpressionAttributeValues={":app": {"S": f"audit#{app}"}},
            ScanIndexForward=False,
            Limit=limit,
        )

    async def audit_export(self) -> list[AuditEvent]:
        out: list[AuditEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(sk, :audit)",
            "ExpressionAttributeValues": {":audit": {"S": "audit#"}},
        }
        while True:
            resp = await asyncio.to_thread(self.client.scan, **kwargs)
            out.extend(AuditEvent.model_validate_json(i["data"]["S"]) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return sorted(out, key=lambda e: e.at)
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _index(name: str, prefix: str, projection: ProjectionTypeType) -> GlobalSecondaryIndexTypeDef:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": f"{prefix}pk", "KeyType": "HASH"},
            {"AttributeName": f"{prefix}sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": projection, "NonKeyAttributes": ["data"]},
    }

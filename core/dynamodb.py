"""The DynamoDB record store, and the table definitions `create_tables` builds.

Items follow DynamoDB's rules: numbers travel as Decimal (floats in, float or int out;
NaN/inf were already made None by `contract.json_safe`), map keys are strings, None
fields are left out of the item (so no index key is ever empty) and come back as the
record's defaults. Every conditional write carries a ConditionExpression and its failure
becomes NotFound, AlreadyExists or InvalidTransition. Throttling is retried with backoff
a few times, then reported as ServiceUnavailable. Lists are Queries on an index with the
cursor's position as ExclusiveStartKey, never a Scan.

The value codec, the throttling errors and their backoff are `training_image.dynamo`'s,
shared with the training container's writer of the same job records (that module says
why the two writers are two stores held to one behaviour suite).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.exceptions import ServiceUnavailable
from core.records import (
    Index,
    Item,
    Position,
    RecordSpec,
    StatusConflict,
    Where,
    already_exists,
    not_found,
    too_large,
)
from training_image.dynamo import (
    RETRY_DELAYS,
    THROTTLING_ERRORS,
    call_with_throttle_retries,
    from_dynamo,
    to_dynamo,
)
from training_image.dynamo import error_code as _error_code

# Items a filtered query reads per request at least (DynamoDB filters after reading).
FILTERED_READ = 100

__all__ = [
    "RETRY_DELAYS",
    "THROTTLING_ERRORS",
    "DynamoRepository",
    "DynamoStore",
    "decode_item",
    "encode_item",
    "ensure_table",
    "from_dynamo",
    "table_definition",
    "to_dynamo",
]


def encode_item(item: Mapping[str, Any]) -> Item:
    """The DynamoDB item for a plain record item: None fields left out."""
    return {k: to_dynamo(v) for k, v in item.items() if v is not None}


def decode_item(item: Mapping[str, Any]) -> Item:
    return {k: from_dynamo(v) for k, v in item.items()}


class DynamoStore:
    """Items of one record type in one DynamoDB table (a boto3 Table resource)."""

    def __init__(
        self,
        table: Any,
        spec: RecordSpec,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.spec = spec
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One table call, retried while DynamoDB throttles it.

        Only throttling is retried: DynamoDB did not apply a throttled request, so a retry
        can never apply a conditional write twice.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        method = getattr(self.table, operation)
        try:
            return call_with_throttle_retries(
                lambda: method(**kwargs), retry_delays=self.retry_delays, sleep=self.sleep
            )
        except ClientError as exc:
            code = _error_code(exc)
            if code in THROTTLING_ERRORS:
                raise ServiceUnavailable(
                    f"The {self.spec.noun} table is over its capacity: DynamoDB throttled "
                    f"{len(self.retry_delays) + 1} attempts in a row. Try again in a few seconds.",
                    {"code": code, "table": self.table.name},
                ) from exc
            if code == "ResourceNotFoundException":
                raise ServiceUnavailable(
                    f"The DynamoDB table {self.table.name} does not exist: "
                    "run `python manage.py create_tables`.",
                    {"code": code, "table": self.table.name},
                ) from exc
            raise
        except BotoCoreError as exc:
            raise ServiceUnavailable(
                f"DynamoDB could not be reached ({type(exc).__name__}); try again shortly.",
                {"table": self.table.name},
            ) from exc

    def _key(self, record_id: str) -> dict[str, str]:
        return {self.spec.id_field: record_id}

    def _derived(self, fields: Mapping[str, Any], owner_id: str | None) -> Item:
        """The index attributes (RecordSpec.derive) a write of `fields` sets."""
        if (
            self.spec.derive is None
            or not owner_id
            or not (fields.keys() & self.spec.derived_inputs)
        ):
            return {}
        return self.spec.derive(fields, owner_id)

    def _owner_of(self, record_id: str) -> str | None:
        # The owner never changes, so reading it before a conditional write cannot race.
        response = self._call(
            "get_item",
            Key=self._key(record_id),
            ConsistentRead=True,
            ProjectionExpression="#o",
            ExpressionAttributeNames={"#o": self.spec.owner_index.hash_key},
        )
        return (response.get("Item") or {}).get(self.spec.owner_index.hash_key)

    # ------------------------------------------------------------------ store protocol

    def insert(self, item: Item) -> None:
        from boto3.dynamodb.conditions import Attr
        from botocore.exceptions import ClientError

        index = self.spec.owner_index
        owner = item.get(index.hash_key) if index is not None else None
        item = {**item, **self._derived(item, owner)}
        try:
            self._call(
                "put_item",
                Item=encode_item(item),
                ConditionExpression=Attr(self.spec.id_field).not_exists(),
            )
        except ClientError as exc:
            code = _error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise already_exists(self.spec, item[self.spec.id_field]) from None
            if _is_too_large(exc):
                raise too_large(self.spec, item[self.spec.id_field]) from None
            raise

    def get(self, record_id: str) -> Item | None:
        response = self._call("get_item", Key=self._key(record_id), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else decode_item(item)

    def update(
        self, record_id: str, changes: Item, *, only_if_status: frozenset[str] | None
    ) -> Item:
        from boto3.dynamodb.conditions import Attr
        from boto3.dynamodb.types import TypeDeserializer
        from botocore.exceptions import ClientError

        if self.spec.derive is not None and changes.keys() & self.spec.derived_inputs:
            changes = {**changes, **self._derived(changes, self._owner_of(record_id))}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        # `#f`/`:f` placeholders: boto3's condition builder uses `#n`/`:v` for its own.
        for number, (name, value) in enumerate(sorted(changes.items())):
            names[f"#f{number}"] = name
            if value is None:
                removes.append(f"#f{number}")
            else:
                values[f":f{number}"] = to_dynamo(value)
                sets.append(f"#f{number} = :f{number}")
        expression = " ".join(
            part
            for part in (
                f"SET {', '.join(sets)}" if sets else "",
                f"REMOVE {', '.join(removes)}" if removes else "",
            )
            if part
        )
        condition = Attr(self.spec.id_field).exists()
        if only_if_status is not None:
            condition = condition & Attr("status").is_in(sorted(only_if_status))
        kwargs: dict[str, Any] = {
            "Key": self._key(record_id),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ConditionExpression": condition,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            response = self._call("update_item", **kwargs)
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                if not old:
                    raise not_found(self.spec, record_id) from None
                # The failed write returns the old item in wire format.
                current = TypeDeserializer().deserialize(old.get("status", {"S": ""}))
                raise StatusConflict(current) from None
            if _is_too_large(exc):
                raise too_large(self.spec, record_id) from None
            raise
        return decode_item(response["Attributes"])

    def delete(self, record_id: str) -> None:
        from boto3.dynamodb.conditions import Attr
        from botocore.exceptions import ClientError

        try:
            self._call(
                "delete_item",
                Key=self._key(record_id),
                ConditionExpression=Attr(self.spec.id_field).exists(),
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise not_found(self.spec, record_id) from None
            raise

    def query(
        self,
        index: Index,
        value: str,
        *,
        descending: bool,
        after: Position | None,
        limit: int | None,
        where: Where | None = None,
    ) -> list[Item]:
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": index.name,
            "KeyConditionExpression": Key(index.hash_key).eq(value),
            "ScanIndexForward": not descending,
        }
        if where:
            kwargs["FilterExpression"] = self._filter(where)
        if after is not None:
            # A position is exactly a GSI's LastEvaluatedKey: table key + index keys.
            kwargs["ExclusiveStartKey"] = {
                self.spec.id_field: after[2],
                index.hash_key: after[0],
                index.range_key: after[1],
            }
        items: list[Item] = []
        while limit is None or len(items) < limit:
            if limit is not None:
                # Limit counts items read before the filter: read a fuller page when filtering.
                wanted = limit - len(items)
                kwargs["Limit"] = max(wanted, FILTERED_READ) if where else wanted
            response = self._call("query", **kwargs)
            items += [decode_item(i) for i in response.get("Items", [])]
            # A page can stop early at 1 MB; keep reading so pages hold exactly `limit`.
            start = response.get("LastEvaluatedKey")
            if not start:
                break
            kwargs["ExclusiveStartKey"] = start
        # A position is any returned item's keys, so trimming the surplus loses nothing.
        return items if limit is None else items[:limit]

    def _filter(self, where: Where) -> Any:
        from boto3.dynamodb.conditions import Attr

        conditions = [Attr(name).eq(value) for name, value in where.equals]
        conditions += [Attr(name).contains(value) for name, value in where.has]
        if where.text:
            if self.spec.search_attribute is None:
                raise TypeError(f"{self.spec.noun} records have no search text")
            conditions.append(Attr(self.spec.search_attribute).contains(where.text))
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = combined & condition
        return combined

    def fill_derived(self) -> int:
        """Set the derived index attributes on items written before they existed.

        A one-off migration (`create_tables` runs it), so the one Scan in this module:
        listings never scan. Returns how many items were filled.
        """
        from boto3.dynamodb.conditions import Attr

        if self.spec.derive is None:
            return 0
        missing = None
        for name in sorted(self.spec.derived_keys):
            condition = Attr(name).not_exists()
            missing = condition if missing is None else missing | condition
        kwargs: dict[str, Any] = {"FilterExpression": missing}
        filled = 0
        while True:
            response = self._call("scan", **kwargs)
            for raw in response.get("Items", []):
                item = decode_item(raw)
                owner = item.get(self.spec.owner_index.hash_key)
                fields = {name: item.get(name) for name in self.spec.derived_inputs}
                derived = {
                    k: v
                    for k, v in self._derived(fields, owner).items()
                    if v is not None and k not in item
                }
                if derived:
                    self.update(item[self.spec.id_field], derived, only_if_status=None)
                    filled += 1
            start = response.get("LastEvaluatedKey")
            if not start:
                return filled
            kwargs["ExclusiveStartKey"] = start

    def count(self, index: Index, value: str) -> int:
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": index.name,
            "KeyConditionExpression": Key(index.hash_key).eq(value),
            "Select": "COUNT",
        }
        total = 0
        while True:
            response = self._call("query", **kwargs)
            total += int(response.get("Count", 0))
            start = response.get("LastEvaluatedKey")
            if not start:
                return total
            kwargs["ExclusiveStartKey"] = start


def _is_too_large(exc: Exception) -> bool:
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
    return (
        _error_code(exc) == "ValidationException"
        and "size" in message.lower()
        and ("exceeded" in message.lower())
    )


# --------------------------------------------------------------------------- tables


def table_definition(name: str, key: str, indexes: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """`create_table` arguments: string keys, every index projecting the whole item,
    on-demand capacity (the product scales to zero)."""
    attributes = dict.fromkeys([key, *(k for pair in indexes.values() for k in pair)], "S")
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": t} for a, t in attributes.items()
        ],
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [_index_definition(n, pair) for n, pair in indexes.items()],
    }


def _index_definition(name: str, keys: tuple[str, str]) -> dict[str, Any]:
    hash_key, range_key = keys
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def ensure_table(
    client: Any, name: str, key: str, indexes: Mapping[str, tuple[str, str]]
) -> list[str]:
    """Create the table, add any missing index and turn point-in-time recovery on.

    Idempotent: an existing table keeps its data. Returns what was done, for the command's
    output.
    """
    definition = table_definition(name, key, indexes)
    done: list[str] = []
    try:
        description = client.describe_table(TableName=name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        client.create_table(**definition)
        client.get_waiter("table_exists").wait(TableName=name)
        done.append(f"created table {name}")
    else:
        present = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
        for index_name, keys in indexes.items():
            if index_name in present:
                continue
            # DynamoDB adds one index per UpdateTable call.
            client.update_table(
                TableName=name,
                AttributeDefinitions=definition["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": _index_definition(index_name, keys)}],
            )
            client.get_waiter("table_exists").wait(TableName=name)
            done.append(f"added index {index_name} to {name}")
    backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if pitr != "ENABLED":
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        done.append(f"enabled point-in-time recovery on {name}")
    return done


class DynamoRepository:
    """Mixin for a `RecordRepository` subclass: its store is a DynamoDB Table resource.

    `retry_delays`/`sleep` tune the backoff on throttling (tests pass zeros).
    """

    spec: RecordSpec

    def __init__(
        self,
        table: Any,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        store = DynamoStore(table, self.spec, retry_delays=retry_delays, sleep=sleep)
        super().__init__(store)  # type: ignore[call-arg]

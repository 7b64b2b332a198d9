"""What the SQLite and DynamoDB record stores share: one definition of the repository rules.

A repository (`RecordRepository`, extended per record type in `<app>/adapters/__init__.py`)
holds the behaviour every adapter must show: validation, the 400 KB item limit,
`updated_at` on every write, conditional writes, index-only listing with opaque cursors.
A `RecordStore` (`core.sqlite.SqliteStore`, `core.dynamodb.DynamoStore`) only moves plain
JSON-shaped dicts in and out of its backend. Django-free: the adapters run in any process.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from core.exceptions import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
)
from core.pagination import Page, decode_cursor, encode_cursor
from training_image.contract import json_safe, utcnow

R = TypeVar("R")

# DynamoDB refuses items over 400 KB (409,600 bytes; moto stops at 405,000). Both adapters
# refuse them a little earlier, so a record that fits locally also fits on AWS.
MAX_ITEM_BYTES = 400_000
MAX_PAGE_SIZE = 1000

Item = dict[str, Any]
# A position in an index: (hash value, range value, record id) of the last item returned.
Position = tuple[str, str, str]


@dataclass(frozen=True)
class Index:
    """One index: DynamoDB global secondary index name and the keys SQLite indexes too."""

    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True)
class Where:
    """Conditions a listing applies to the items its index query returns.

    `equals`: field == value; `has`: the list field holds the value; `text`: the record's
    search text (RecordSpec.search_text) contains the (case-folded) substring.
    """

    equals: tuple[tuple[str, str], ...] = ()
    has: tuple[tuple[str, str], ...] = ()
    text: str | None = None

    def __bool__(self) -> bool:
        return bool(self.equals or self.has or self.text)

    def matches(self, item: Mapping[str, Any], search_text: Callable[[Mapping], str]) -> bool:
        """Whether `item` meets every condition (the rule both stores' queries express)."""
        return (
            all(item.get(name) == value for name, value in self.equals)
            and all(value in (item.get(name) or []) for name, value in self.has)
            and (not self.text or self.text in search_text(item))
        )


@dataclass(frozen=True)
class RecordSpec:
    """The storage facts of one record type."""

    noun: str  # "job" / "dataset", for messages
    record_class: type
    table: str  # SQLite table name
    id_field: str
    # None: a record type not listed per owner or by status (prediction batches are
    # listed per job, through `other_indexes`); those listings then refuse to run.
    owner_index: Index | None
    status_index: Index | None
    statuses: tuple[str, ...]
    immutable: frozenset[str]  # fields `update` may never change
    status_by_update: bool  # datasets change status with `update`; jobs only by `transition`
    sqlite_row: Callable[[Item], dict[str, Any]]  # mirrored columns + `item` JSON
    other_indexes: tuple[Index, ...] = ()
    # Index attributes computed from other fields (not record fields; may be absent).
    # DynamoDB stores them, computed by `derive(fields, owner_id)` on every write that
    # touches one of `derived_inputs`; SQLite computes them as generated columns.
    derived_keys: frozenset[str] = frozenset()
    derived_inputs: frozenset[str] = frozenset()
    derive: Callable[[Mapping[str, Any], str], dict[str, Any]] | None = None
    search_text: Callable[[Mapping[str, Any]], str] | None = None
    search_attribute: str | None = None  # where DynamoDB keeps search_text(item)

    @property
    def key_fields(self) -> tuple[str, ...]:
        """Attributes that are table or index keys: DynamoDB refuses empty strings there."""
        names = [self.id_field]
        for index in (self.owner_index, self.status_index, *self.other_indexes):
            if index is not None:
                names += [index.hash_key, index.range_key]
        return tuple(n for n in dict.fromkeys(names) if n not in self.derived_keys)

    def index(self, name: str) -> Index:
        """One of the spec's indexes by name."""
        for index in (self.owner_index, self.status_index, *self.other_indexes):
            if index is not None and index.name == name:
                return index
        raise KeyError(name)

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in fields(self.record_class))

    def label(self, record_id: str) -> str:
        return f"{self.noun.capitalize()} {record_id}"


class StatusConflict(Exception):
    """A store found the record in a status the write did not allow."""

    def __init__(self, current: str) -> None:
        super().__init__(current)
        self.current = current


class RecordStore(Protocol):
    """Plain-dict storage of one record type (one SQLite table or one DynamoDB table)."""

    spec: RecordSpec

    def insert(self, item: Item) -> None:
        """Store a new item; AlreadyExists when the id is taken."""

    def get(self, record_id: str) -> Item | None: ...

    def update(
        self, record_id: str, changes: Item, *, only_if_status: frozenset[str] | None
    ) -> Item:
        """Apply `changes` (None removes a field) atomically; returns the new item.

        Raises NotFound, StatusConflict (status not in `only_if_status`) or PayloadTooLarge.
        """

    def delete(self, record_id: str) -> None:
        """Remove the item; NotFound when absent."""

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
        """Up to `limit` items (None: all) with `index.hash_key == value`, in index order,
        strictly after `after` (a position returned by `position()`), that meet `where`."""

    def count(self, index: Index, value: str) -> int:
        """How many items have `index.hash_key == value` (an index count, never a scan)."""


def plain(value: Any) -> Any:
    """The JSON shape both stores keep: contract.json_safe (NaN/inf -> None, string map
    keys, numpy scalars unwrapped), then enums and tuples become plain str and list."""
    return json.loads(json.dumps(json_safe(value), allow_nan=False))


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes DynamoDB would count for `item` (attribute names + values), None fields omitted."""
    return sum(len(k.encode()) + _value_size(v) for k, v in item.items() if v is not None)


def _value_size(value: Any) -> int:
    # Sizes from the DynamoDB developer guide ("Item sizes and formats").
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float):
        # AWS counts about one byte per two digits; moto counts the text. Take the larger.
        return len(repr(value))
    if isinstance(value, Mapping):
        return 3 + sum(len(str(k).encode()) + 1 + _value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(1 + _value_size(v) for v in value)
    return len(str(value).encode())


def check_size(spec: RecordSpec, record_id: str, item: Mapping[str, Any]) -> None:
    """PayloadTooLarge when `item` would not fit in one DynamoDB item."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise too_large(spec, record_id, size)


def too_large(spec: RecordSpec, record_id: str, size: int | None = None) -> PayloadTooLarge:
    measured = f" would be {size // 1000} KB," if size else " is"
    return PayloadTooLarge(
        f"{spec.label(record_id)}{measured} over the 400 KB record limit. "
        "Keep large data (reports, predictions, full column lists) in file storage and store "
        "only its key in the record.",
        {"limit_bytes": MAX_ITEM_BYTES, **({"size_bytes": size} if size else {})},
    )


def not_found(spec: RecordSpec, record_id: str) -> NotFound:
    return NotFound(f"{spec.label(record_id)} does not exist.")


def already_exists(spec: RecordSpec, record_id: str) -> AlreadyExists:
    return AlreadyExists(f"A {spec.noun} with id {record_id} already exists.")


def status_values(spec: RecordSpec, statuses: Iterable[Any]) -> frozenset[str]:
    values = frozenset(str(s) for s in statuses)
    unknown = sorted(values - set(spec.statuses))
    if unknown:
        raise InvalidInput(
            f"Unknown {spec.noun} status {', '.join(unknown)}: use one of {', '.join(spec.statuses)}."
        )
    return values


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"Page size must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return limit


def position(index: Index, spec: RecordSpec, item: Mapping[str, Any]) -> Position:
    return (item[index.hash_key], item[index.range_key], item[spec.id_field])


def _read_position(raw: Any) -> tuple[str, str] | None:
    if (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(part, str) and part for part in raw)
    ):
        return raw[0], raw[1]
    return None


def _bad_cursor() -> InvalidInput:
    return InvalidInput("Invalid pagination token: start again from the first page.")


class RecordRepository(Generic[R]):
    """The repository behaviour both adapters share; subclasses pick the store."""

    spec: ClassVar[RecordSpec]

    def __init__(self, store: RecordStore) -> None:
        self._store = store

    # ------------------------------------------------------------------ reads

    def _record(self, item: Mapping[str, Any]) -> R:
        return self.spec.record_class.from_item(item)

    def get(self, record_id: str) -> R | None:
        """The record, or None (also for an empty or non-string id)."""
        if not isinstance(record_id, str) or not record_id:
            return None
        item = self._store.get(record_id)
        return None if item is None else self._record(item)

    def list_for_owner(
        self, owner_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> Page[R]:
        """Newest first through the owner + created_at index; `next_cursor` while more exist."""
        owner_id = str(owner_id)
        if self.spec.owner_index is None:
            raise TypeError(f"{self.spec.noun} records are not listed per owner")
        return self._list_page(
            self.spec.owner_index, owner_id, owner_id=owner_id, limit=limit, cursor=cursor
        )

    def _list_page(
        self,
        index: Index,
        value: str,
        *,
        owner_id: str,
        limit: int,
        cursor: str | None,
        where: Where | None = None,
        scope: str = "",
    ) -> Page[R]:
        """One page of an index query for `owner_id`, newest first.

        The cursor names the owner and `scope` (what the listing was filtered by), so a
        cursor is only ever read back by the same listing it came from.
        """
        check_limit(limit)
        after = None
        state = decode_cursor(cursor)
        if state is not None:
            at = _read_position(state.get("at"))
            if state.get("owner") != owner_id or state.get("scope", "") != scope or at is None:
                raise _bad_cursor()
            after = (value, *at)
        items = self._store.query(
            index, value, descending=True, after=after, limit=limit + 1, where=where
        )
        page = Page(items=[self._record(i) for i in items[:limit]])
        if len(items) > limit:
            last = items[limit - 1]
            state = {"owner": owner_id, "at": [last[index.range_key], last[self.spec.id_field]]}
            if scope:
                state["scope"] = scope
            page.next_cursor = encode_cursor(state)
        return page

    def count(self, index_name: str, value: str) -> int:
        """How many records an index holds under `value` (for summary tiles)."""
        return self._store.count(self.spec.index(index_name), str(value))

    def _page_on(
        self, index: Index, value: str, name: str, *, limit: int, after: Position | None
    ) -> Page[R]:
        """One page of `index == value`, newest first; the cursor names `name`'s value."""
        items = self._store.query(index, value, descending=True, after=after, limit=limit + 1)
        page = Page(items=[self._record(i) for i in items[:limit]])
        if len(items) > limit:
            last = items[limit - 1]
            page.next_cursor = encode_cursor(
                {name: value, "at": [last[index.range_key], last[self.spec.id_field]]}
            )
        return page

    def _after(self, cursor: str | None, name: str, value: str) -> Position | None:
        """The position a cursor of `_page_on(..., name)` for `value` resumes after."""
        state = decode_cursor(cursor)
        if state is None:
            return None
        where = _read_position(state.get("at"))
        if state.get(name) != value or where is None:
            raise _bad_cursor()
        return (value, *where)

    def list_recent(
        self, *, statuses: Iterable[str] | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[R]:
        """Every owner's records, newest first by the status index's range key, for staff.

        One Query per status (never a Scan), merged; the cursor keeps a position per status.
        """
        check_limit(limit)
        wanted = sorted(status_values(self.spec, statuses or self.spec.statuses))
        index = self.spec.status_index
        if index is None:
            raise TypeError(f"{self.spec.noun} records are not listed by status")
        positions: dict[str, tuple[str, str]] = {}
        state = decode_cursor(cursor)
        if state is not None:
            raw = state.get("recent")
            if not isinstance(raw, dict) or not set(raw) <= set(self.spec.statuses):
                raise _bad_cursor()
            for status, where in raw.items():
                parsed = _read_position(where)
                if parsed is None:
                    raise _bad_cursor()
                positions[status] = parsed
        runs = []
        for status in wanted:
            after = (status, *positions[status]) if status in positions else None
            runs.append(
                self._store.query(index, status, descending=True, after=after, limit=limit + 1)
            )
        # heapq.merge keeps each status's own order, so a per-status position stays exact.
        merged = list(heapq.merge(*runs, key=lambda item: item[index.range_key], reverse=True))
        shown = merged[:limit]
        page = Page(items=[self._record(i) for i in shown])
        if len(merged) > limit:
            for item in shown:
                positions[item[index.hash_key]] = (item[index.range_key], item[self.spec.id_field])
            kept = {s: list(positions[s]) for s in wanted if s in positions}
            page.next_cursor = encode_cursor({"recent": kept})
        return page

    # ------------------------------------------------------------------ writes

    def add(self, record: R) -> R:
        """Store a new record; AlreadyExists when its id is taken.

        Raises:
            InvalidInput: a key field (id, owner, status, timestamps) is empty or a status
                is unknown.
            PayloadTooLarge: the record is over 400 KB.
        """
        item = plain(record.to_item())
        self._validate_keys(item)
        status_values(self.spec, [item["status"]])
        check_size(self.spec, item[self.spec.id_field], item)
        self._store.insert(item)
        return self._record(item)

    def update(
        self,
        record_id: str,
        *,
        only_if_status: Iterable[str] | None = None,
        **fields: Any,
    ) -> R:
        """Set fields (and bump `updated_at`); with `only_if_status`, only from those statuses.

        Raises:
            NotFound: no such record.
            InvalidTransition: the record is not in `only_if_status`; nothing changed.
        """
        if "status" in fields and not self.spec.status_by_update:
            raise TypeError(f"{self.spec.noun} status changes go through transition()")
        if "status" in fields:
            status_values(self.spec, [fields["status"]])
        expected = None if only_if_status is None else status_values(self.spec, only_if_status)
        return self._write(record_id, fields, expected, target=None)

    def delete(self, record_id: str) -> None:
        """Remove the record; NotFound when it does not exist."""
        if not isinstance(record_id, str) or not record_id:
            raise not_found(self.spec, str(record_id))
        self._store.delete(record_id)

    def _write(
        self,
        record_id: str,
        fields: Mapping[str, Any],
        expected: frozenset[str] | None,
        *,
        target: str | None,
    ) -> R:
        changes = self._changes(fields)
        if not isinstance(record_id, str) or not record_id:
            raise not_found(self.spec, str(record_id))
        # The whole item is checked by the store; the changes alone are checked here so a
        # DynamoDB update never ships a payload that cannot fit.
        check_size(self.spec, record_id, changes)
        try:
            item = self._store.update(record_id, changes, only_if_status=expected)
        except StatusConflict as conflict:
            raise self._conflict(record_id, conflict.current, expected, target) from None
        return self._record(item)

    def _changes(self, fields: Mapping[str, Any]) -> Item:
        names = self.spec.field_names
        unknown = sorted(set(fields) - names)
        if unknown:
            raise TypeError(f"unknown {self.spec.noun} field(s): {', '.join(unknown)}")
        frozen = sorted(set(fields) & (self.spec.immutable | {"updated_at"}))
        if frozen:
            raise TypeError(f"{self.spec.noun} field(s) {', '.join(frozen)} cannot be updated")
        changes = plain(dict(fields))
        changes["updated_at"] = utcnow()  # every write bumps it: pollers and ETags rely on it
        for name in self.spec.key_fields:
            if name in changes:
                self._check_key(name, changes[name])
        return changes

    def _conflict(
        self, record_id: str, current: str, expected: frozenset[str] | None, target: str | None
    ) -> InvalidTransition:
        label = self.spec.label(record_id)
        allowed = ", ".join(sorted(expected or ()))
        if target is not None:
            message = f"{label} is {current}; it cannot move to {target}."
        else:
            message = f"{label} is {current}, not {allowed}; nothing was changed."
        return InvalidTransition(
            message, {"current": current, "allowed": sorted(expected or ()), "target": target}
        )

    def _validate_keys(self, item: Mapping[str, Any]) -> None:
        for name in self.spec.key_fields:
            self._check_key(name, item.get(name))

    def _check_key(self, name: str, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{self.spec.noun.capitalize()} {name} must be a non-empty string.")

"""The SQLite record store: one file shared by the web, the worker and the training process.

WAL mode lets readers run while one process writes. Every call opens its own connection
(safe across threads and across Celery's forked workers) with a busy timeout, and every
read-check-write runs inside `BEGIN IMMEDIATE`, which takes the write lock before the
read, so no other process can change the row between the check and the write.
Listing is keyset pagination on the indexed columns of `contract.SQLITE_SCHEMA`, never OFFSET.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
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
    check_size,
    not_found,
)
from training_image.contract import (
    SQLITE_JOB_FILTER_INDEXES,
    SQLITE_JOB_GENERATED_COLUMNS,
    SQLITE_SCHEMA,
)

# Seconds a connection waits for another process's write lock before giving up.
BUSY_TIMEOUT = 30.0
# The SQL name of RecordSpec.search_text on this store's connections (filters only).
SEARCH_FUNCTION = "record_search_text"


def connect(path: str | Path, *, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with a busy timeout."""
    connection = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return connection


def ensure_schema(path: str | Path) -> Path:
    """Create the records file (WAL mode) and its tables and indexes; idempotent.

    Returns:
        The resolved path of the file.
    """
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(connect(path)) as connection:
        # WAL is a property of the file: set once, every later connection uses it.
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ServiceUnavailable(
                f"The records file {path} cannot use WAL mode (got {mode!r}); "
                "put it on a local disk, not a network share."
            )
        connection.executescript(SQLITE_SCHEMA)
        _add_generated_columns(connection, "jobs", SQLITE_JOB_GENERATED_COLUMNS)
        connection.executescript(SQLITE_JOB_FILTER_INDEXES)
    return path


def _add_generated_columns(
    connection: sqlite3.Connection, table: str, columns: dict[str, str]
) -> None:
    """Add the generated columns a file made by an earlier version lacks (VIRTUAL: SQLite
    computes them from the row, so no row needs rewriting and every writer keeps them)."""
    present = {row[1] for row in connection.execute(f"PRAGMA table_xinfo({table})")}
    for name, expression in columns.items():
        if name not in present:
            connection.execute(
                f"ALTER TABLE {table} ADD COLUMN {name} TEXT "
                f"GENERATED ALWAYS AS ({expression}) VIRTUAL"
            )


class SqliteStore:
    """Items of one record type in one table of the records file."""

    def __init__(self, path: str | Path, spec: RecordSpec, *, timeout: float = BUSY_TIMEOUT):
        self.spec = spec
        self.timeout = timeout
        # The schema is created on first use too, so a fresh checkout needs no extra step.
        self.path = ensure_schema(path)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            with contextlib.closing(connect(self.path, timeout=self.timeout)) as connection:
                if self.spec.search_text is not None:
                    search_text = self.spec.search_text
                    connection.create_function(
                        SEARCH_FUNCTION,
                        1,
                        lambda raw: search_text(json.loads(raw)),
                        deterministic=True,
                    )
                yield connection
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ServiceUnavailable(
                    f"The records file is busy (another process held its lock for over "
                    f"{self.timeout:g} s); try again in a moment.",
                    {"path": str(self.path)},
                ) from exc
            raise

    @contextlib.contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _row_values(self, item: Item) -> dict[str, Any]:
        return self.spec.sqlite_row(item)

    # ------------------------------------------------------------------ store protocol

    def insert(self, item: Item) -> None:
        row = self._row_values(item)
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        try:
            with self._connection() as connection:
                connection.execute(
                    f"INSERT INTO {self.spec.table} ({columns}) VALUES ({marks})", row
                )
        except sqlite3.IntegrityError:
            raise already_exists(self.spec, item[self.spec.id_field]) from None

    def get(self, record_id: str) -> Item | None:
        with self._connection() as connection:
            row = connection.execute(
                f"SELECT item FROM {self.spec.table} WHERE {self.spec.id_field} = ?", (record_id,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def update(
        self, record_id: str, changes: Item, *, only_if_status: frozenset[str] | None
    ) -> Item:
        table, id_field = self.spec.table, self.spec.id_field
        with self._write_transaction() as connection:
            row = connection.execute(
                f"SELECT status, item FROM {table} WHERE {id_field} = ?", (record_id,)
            ).fetchone()
            if row is None:
                raise not_found(self.spec, record_id)
            status, raw = row
            if only_if_status is not None and status not in only_if_status:
                raise StatusConflict(status)
            item = json.loads(raw)
            item.update(changes)
            check_size(self.spec, record_id, item)
            values = self._row_values(item)
            assignments = ", ".join(f"{name} = :{name}" for name in values if name != id_field)
            # The status guard repeats the check above; under BEGIN IMMEDIATE it always holds.
            cursor = connection.execute(
                f"UPDATE {table} SET {assignments} WHERE {id_field} = :{id_field} "
                "AND status = :_old_status",
                {**values, "_old_status": status},
            )
            if cursor.rowcount != 1:
                raise StatusConflict(status)
        return item

    def delete(self, record_id: str) -> None:
        with self._connection() as connection:
            cursor = connection.execute(
                f"DELETE FROM {self.spec.table} WHERE {self.spec.id_field} = ?", (record_id,)
            )
        if cursor.rowcount == 0:
            raise not_found(self.spec, record_id)

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
        sql, params = self._query_sql(index, value, descending, after, limit, where)
        with self._connection() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [json.loads(row[0]) for row in rows]

    def count(self, index: Index, value: str) -> int:
        with self._connection() as connection:
            row = connection.execute(
                f"SELECT COUNT(*) FROM {self.spec.table} WHERE {index.hash_key} = ?", (value,)
            ).fetchone()
        return int(row[0])

    def query_plan(
        self,
        index: Index,
        value: str,
        *,
        descending: bool = True,
        after: Position | None = None,
        where: Where | None = None,
    ) -> str:
        """SQLite's plan for an index listing (tests assert it seeks an index, never scans)."""
        sql, params = self._query_sql(index, value, descending, after, 21, where)
        with self._connection() as connection:
            rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return "\n".join(str(row[-1]) for row in rows)

    def _query_sql(
        self,
        index: Index,
        value: str,
        descending: bool,
        after: Position | None,
        limit: int | None,
        where: Where | None = None,
    ) -> tuple[str, dict[str, Any]]:
        # Order (range key, then id ascending) matches the indexes in SQLITE_SCHEMA, so the
        # keyset condition is a range seek on the index: no scan, no OFFSET.
        id_field, range_key = self.spec.id_field, index.range_key
        direction, beyond = ("DESC", "<") if descending else ("ASC", ">")
        sql = f"SELECT item FROM {self.spec.table} WHERE {index.hash_key} = :value"
        params: dict[str, Any] = {"value": value}
        if after is not None:
            sql += (
                f" AND ({range_key} {beyond} :range OR ({range_key} = :range AND {id_field} > :id))"
            )
            params.update(range=after[1], id=after[2])
        if where:
            sql += self._where_sql(where, params)
        sql += f" ORDER BY {range_key} {direction}, {id_field} ASC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return sql, params

    def _where_sql(self, where: Where, params: dict[str, Any]) -> str:
        """`where` as SQL on the row's `item` document; field names are ours, never input."""
        sql = ""
        for number, (name, value) in enumerate(where.equals):
            sql += f" AND json_extract(item, '$.{name}') = :eq{number}"
            params[f"eq{number}"] = value
        for number, (name, value) in enumerate(where.has):
            sql += (
                f" AND EXISTS (SELECT 1 FROM json_each(item, '$.{name}') "
                f"WHERE json_each.value = :has{number})"
            )
            params[f"has{number}"] = value
        if where.text:
            if self.spec.search_text is None:
                raise TypeError(f"{self.spec.noun} records have no search text")
            sql += f" AND instr({SEARCH_FUNCTION}(item), :text) > 0"
            params["text"] = where.text
        return sql


class SqliteRepository:
    """Mixin for a `RecordRepository` subclass: its store is a table of the SQLite file."""

    spec: RecordSpec

    def __init__(self, path: str | Path) -> None:
        super().__init__(SqliteStore(path, self.spec))  # type: ignore[call-arg]

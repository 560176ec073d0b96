"""The hosting tables: models, endpoint configurations, endpoints and transform jobs.

They live in the job store's SQLite file (`$SMLOCAL_HOME/smlocal.db`), so one file holds
everything the API serves, through a connection of their own (WAL: the training store's
connection and this one never block each other's readers). Each resource is one row: its kind
(the ARN's resource type), its name (unique regardless of letter case, as SageMaker's
lower-cased ARNs make it), its status and times for listing, and `body`, the JSON that Describe
answers from plus what the emulator keeps about it.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from emulator.jobhome import json_default, make_private_dirs

MODEL, ENDPOINT_CONFIG, ENDPOINT, TRANSFORM_JOB = "model", "endpoint-config", "endpoint", "transform-job"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hosting_resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    arn TEXT NOT NULL UNIQUE,
    status TEXT,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX IF NOT EXISTS hosting_resources_by_creation ON hosting_resources (kind, creation_time);
"""
_SORT_COLUMNS = {"Name": "name", "CreationTime": "creation_time", "Status": "status"}


class Database:
    """One connection, shared by the server's threads under a lock."""

    def __init__(self, path: Path) -> None:
        make_private_dirs(path.parent)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")

    def ensure(self, schema: str) -> None:
        with self._lock:
            self._db.executescript(schema)

    def read(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def write(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Duplicate(Exception):
    """A resource of that kind and name (in any letter case) exists."""


@dataclass(frozen=True)
class Record:
    kind: str
    name: str
    arn: str
    status: str | None
    creation_time: datetime
    last_modified_time: datetime
    body: dict


def _dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, sort_keys=True)


def revive_times(value: Any, key: str = "") -> Any:
    """JSON as stored (datetimes as ISO 8601 text) -> with datetimes again for every `...Time` key."""
    if isinstance(value, dict):
        return {k: revive_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [revive_times(v, key) for v in value]
    if isinstance(value, str) and key.endswith("Time"):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _record(row: sqlite3.Row) -> Record:
    return Record(row["kind"], row["name"], row["arn"], row["status"],
                  datetime.fromtimestamp(row["creation_time"], timezone.utc),
                  datetime.fromtimestamp(row["last_modified_time"], timezone.utc),
                  revive_times(json.loads(row["body"])))


class Resources:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure(_SCHEMA)

    def insert(self, kind: str, name: str, arn: str, body: dict, status: str | None = None,
               at: datetime | None = None) -> Record:
        when = (at or datetime.now(timezone.utc)).timestamp()
        try:
            self.db.write("INSERT INTO hosting_resources (kind, name, arn, status, creation_time, last_modified_time, "
                          "body) VALUES (?, ?, ?, ?, ?, ?, ?)", (kind, name, arn, status, when, when, _dumps(body)))
        except sqlite3.IntegrityError:
            raise Duplicate(f"{kind} {name}") from None
        return self.get(kind, name)

    def get(self, kind: str, name: str) -> Record | None:
        rows = self.db.read("SELECT * FROM hosting_resources WHERE kind = ? AND name = ?", (kind, name))
        return _record(rows[0]) if rows else None

    def arn(self, arn: str) -> str | None:
        """The ARN a resource of any kind is kept under, for an ARN in any letter case; None if none has it."""
        rows = self.db.read("SELECT arn FROM hosting_resources WHERE arn = ? COLLATE NOCASE", (arn,))
        return rows[0]["arn"] if rows else None

    def update(self, kind: str, name: str, body: dict, status: str | None = None) -> None:
        self.db.write("UPDATE hosting_resources SET body = ?, status = ?, last_modified_time = ? "
                      "WHERE kind = ? AND name = ?", (_dumps(body), status, time.time(), kind, name))

    def delete(self, kind: str, name: str) -> None:
        self.db.write("DELETE FROM hosting_resources WHERE kind = ? AND name = ?", (kind, name))

    def with_status(self, kind: str, statuses: tuple[str, ...]) -> list[Record]:
        marks = ", ".join("?" * len(statuses))
        return [_record(r) for r in self.db.read(
            f"SELECT * FROM hosting_resources WHERE kind = ? AND status IN ({marks}) ORDER BY creation_time",
            (kind, *statuses))]

    def search(self, kind: str, *, name_contains: str | None = None, status: str | None = None,
               created_after: datetime | None = None, created_before: datetime | None = None,
               modified_after: datetime | None = None, modified_before: datetime | None = None,
               sort_by: str = "CreationTime", descending: bool = True, offset: int = 0,
               limit: int = 10) -> list[Record]:
        """What the List operations answer: every filter applies (times exclusive), names ignore case."""
        where, params = ["kind = ?"], [kind]
        if name_contains:
            where.append("instr(lower(name), lower(?)) > 0")
            params.append(name_contains)
        for column, op, value in (("status", "=", status), ("creation_time", ">", created_after),
                                  ("creation_time", "<", created_before),
                                  ("last_modified_time", ">", modified_after),
                                  ("last_modified_time", "<", modified_before)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value.timestamp() if isinstance(value, datetime) else value)
        direction = "DESC" if descending else "ASC"
        rows = self.db.read(f"SELECT * FROM hosting_resources WHERE {' AND '.join(where)} "
                            f"ORDER BY {_SORT_COLUMNS[sort_by]} {direction}, name {direction} LIMIT ? OFFSET ?",
                            [*params, limit, offset])
        return [_record(r) for r in rows]

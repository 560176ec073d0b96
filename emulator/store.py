"""The job store: training jobs, tags, log events and metric values in one SQLite file.

    store = JobStore.open(home)        # $SMLOCAL_HOME/smlocal.db (created on first use)

Every training job is here, whether `smlocal train` or the HTTP API started it, and the
process that runs a job writes everything about it as it happens: the request with defaults,
the job's state (`JobResult.to_record()`), tags, the CloudWatch log streams
`<job>/algo-N-<epoch>` and the metric time series behind GetMetricStatistics. So `smlocal
list`, DescribeTrainingJob and a restarted server answer for every job. One connection per
process, shared by its threads under a lock; several processes write the same file (SQLite
locks it; WAL journal, so a reader never blocks a writer, and a busy timeout).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from emulator.jobhome import JobHome, json_default, make_private_dirs
from emulator.jobstate import ACTIVE, JobResult

DATABASE_NAME = "smlocal.db"
# PRAGMA user_version: 1 = job states as JobResult.to_record() (before, DescribeTrainingJob keys).
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    status TEXT NOT NULL,
    secondary_status TEXT NOT NULL,
    training_end_time REAL,
    request TEXT NOT NULL,      -- the CreateTrainingJob request, defaults filled in (JSON)
    state TEXT NOT NULL,        -- JobResult.to_record() (JSON, times as ISO 8601)
    extra TEXT NOT NULL DEFAULT '{}'  -- what else Describe needs: the effective metric definitions
);
CREATE INDEX IF NOT EXISTS jobs_by_creation ON jobs (creation_time);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (arn, key)
);
CREATE TABLE IF NOT EXISTS log_streams (
    name TEXT PRIMARY KEY,      -- <job>/algo-N-<epoch seconds>
    job TEXT NOT NULL,
    host TEXT NOT NULL,
    creation_time INTEGER NOT NULL,   -- epoch milliseconds, as CloudWatch Logs reports times
    first_event INTEGER,
    last_event INTEGER,
    last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job, host)
);
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    ingestion_time INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream, id);
CREATE TABLE IF NOT EXISTS metric_values (
    job TEXT NOT NULL,
    name TEXT NOT NULL,
    timestamp REAL NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_values_by_job ON metric_values (job, name, timestamp);
CREATE TABLE IF NOT EXISTS tuning_jobs (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,      -- the CreateHyperParameterTuningJob request (JSON)
    state TEXT NOT NULL         -- emulator.tuning.records.TuningState (JSON)
);
-- A tuning job's training jobs, written before each is created, so that a restarted server
-- neither loses one nor creates it twice.
CREATE TABLE IF NOT EXISTS tuning_trials (
    tuning_job TEXT NOT NULL,
    number INTEGER NOT NULL,
    training_job TEXT NOT NULL UNIQUE,
    params TEXT NOT NULL,       -- the search's values (JSON), as its distributions hold them
    PRIMARY KEY (tuning_job, number)
);
"""


def epoch(value: datetime | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.timestamp()


def epoch_ms(when: float | None = None) -> int:
    return int(round((time.time() if when is None else when) * 1000))


@dataclass(frozen=True)
class StoredJob:
    name: str
    arn: str
    request: dict
    state: dict
    extra: dict

    @property
    def result(self) -> JobResult:
        return JobResult.from_record(self.state)

    @property
    def status(self) -> str:
        return self.state["status"]


@dataclass(frozen=True)
class LogStream:
    name: str
    job: str
    host: str
    creation_time: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int


@dataclass(frozen=True)
class LogEvent:
    id: int
    timestamp: int
    ingestion_time: int
    message: str


@dataclass(frozen=True)
class MetricPoint:
    timestamp: float
    value: float


class DuplicateJob(Exception):
    pass


class StoreError(Exception):
    """A database this version cannot read."""


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        make_private_dirs(path.parent)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of this process; only an OS crash may lose
            # the last moments, which is fine for job records (and makes log appends cheap).
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and self._db.execute("SELECT name FROM sqlite_master WHERE name = 'jobs'").fetchone():
                raise StoreError(f"{path} was written by an earlier smlocal, which kept job states in another "
                                 f"form; move it aside (its jobs stay in their folders) and start again.")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def open(cls, home: JobHome) -> "JobStore":
        return cls(home.root / DATABASE_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    def _read(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # ---- jobs ---------------------------------------------------------------------------------

    def insert_job(self, name: str, arn: str, request: dict, state: dict, extra: dict,
                   tags: list[tuple[str, str]] = ()) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO jobs (name, arn, creation_time, last_modified_time, status, secondary_status, "
                    "training_end_time, request, state, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, arn, *self._state_columns(state), _dumps(request), _dumps(state), _dumps(extra)))
                for position, (key, value) in enumerate(tags):
                    self._db.execute("INSERT OR REPLACE INTO tags (arn, key, value, position) VALUES (?, ?, ?, ?)",
                                     (arn, key, value, position))
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise DuplicateJob(name) from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @staticmethod
    def _state_columns(state: dict) -> tuple:
        return (epoch(state["creation_time"]), epoch(state.get("last_modified_time") or state["creation_time"]),
                state["status"], state["secondary_status"], epoch(state.get("training_end_time")))

    def save_state(self, name: str, state: dict) -> None:
        _, modified, status, secondary, end = self._state_columns(state)
        self._write("UPDATE jobs SET last_modified_time = ?, status = ?, secondary_status = ?, "
                    "training_end_time = ?, state = ? WHERE name = ?",
                    (modified, status, secondary, end, _dumps(state), name))

    def update_extra(self, name: str, **values) -> None:
        with self._lock:
            row = self._db.execute("SELECT extra FROM jobs WHERE name = ?", (name,)).fetchone()
            if row is None:
                return
            extra = {**json.loads(row["extra"]), **values}
            self._db.execute("UPDATE jobs SET extra = ? WHERE name = ?", (_dumps(extra), name))

    def job(self, name: str) -> StoredJob | None:
        rows = self._read("SELECT * FROM jobs WHERE name = ? COLLATE NOCASE", (name,))
        return _job(rows[0]) if rows else None

    def job_by_arn(self, arn: str) -> StoredJob | None:
        rows = self._read("SELECT * FROM jobs WHERE arn = ?", (arn,))
        return _job(rows[0]) if rows else None

    def active_jobs(self) -> list[StoredJob]:
        marks = ", ".join("?" * len(ACTIVE))
        return [_job(r) for r in self._read(f"SELECT * FROM jobs WHERE status IN ({marks})", ACTIVE)]

    def delete_job(self, name: str) -> None:
        """The job's record, tags, log streams and metric values."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql in ("DELETE FROM tags WHERE arn IN (SELECT arn FROM jobs WHERE name = ?)",
                            "DELETE FROM log_events WHERE stream IN (SELECT name FROM log_streams WHERE job = ?)",
                            "DELETE FROM log_streams WHERE job = ?", "DELETE FROM metric_values WHERE job = ?",
                            "DELETE FROM jobs WHERE name = ?"):
                    self._db.execute(sql, (name,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def list_jobs(self, *, name_contains: str | None = None, status: str | None = None,
                  created_after: float | None = None, created_before: float | None = None,
                  modified_after: float | None = None, modified_before: float | None = None,
                  sort_by: str = "CreationTime", descending: bool = True,
                  offset: int = 0, limit: int = 10) -> list[StoredJob]:
        """Jobs matching every given filter (times exclusive, as ListTrainingJobs has them)."""
        where, params = [], []
        if name_contains:
            # Job names are unique regardless of case (the ARN holds the name lower-cased), so
            # matching ignores case too.
            where.append("instr(lower(name), lower(?)) > 0")
            params.append(name_contains)
        for column, op, value in (("status", "=", status), ("creation_time", ">", created_after),
                                  ("creation_time", "<", created_before),
                                  ("last_modified_time", ">", modified_after),
                                  ("last_modified_time", "<", modified_before)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        column = {"Name": "name", "CreationTime": "creation_time", "Status": "status"}[sort_by]
        direction = "DESC" if descending else "ASC"
        sql = (f"SELECT * FROM jobs {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY {column} {direction}, name {direction} LIMIT ? OFFSET ?")
        return [_job(r) for r in self._read(sql, [*params, limit, offset])]

    # ---- tags ---------------------------------------------------------------------------------

    def tags(self, arn: str) -> list[tuple[str, str]]:
        return [(r["key"], r["value"]) for r in
                self._read("SELECT key, value FROM tags WHERE arn = ? ORDER BY position, key", (arn,))]

    def add_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                start = self._db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM tags WHERE arn = ?",
                                         (arn,)).fetchone()[0]
                for offset, (key, value) in enumerate(tags):
                    updated = self._db.execute("UPDATE tags SET value = ? WHERE arn = ? AND key = ?",
                                               (value, arn, key)).rowcount
                    if not updated:
                        self._db.execute("INSERT INTO tags (arn, key, value, position) VALUES (?, ?, ?, ?)",
                                         (arn, key, value, start + offset))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def delete_tags(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys])

    # ---- logs ---------------------------------------------------------------------------------

    def append_log(self, job: str, host: str, message: str, at: float | None = None) -> LogEvent:
        """One line of a host's log; creates the host's stream `<job>/<host>-<epoch>` on first use.

        Timestamps never go backwards within a stream, so reading by time and by order agree.
        """
        now_ms = epoch_ms(at)
        with self._lock:
            stream = self._db.execute("SELECT name, last_event FROM log_streams WHERE job = ? AND host = ?",
                                      (job, host)).fetchone()
            if stream is None:
                name = f"{job}/{host}-{now_ms // 1000}"
                self._db.execute("INSERT INTO log_streams (name, job, host, creation_time) VALUES (?, ?, ?, ?)",
                                 (name, job, host, now_ms))
                last = None
            else:
                name, last = stream["name"], stream["last_event"]
            timestamp = max(now_ms, last or 0)
            cursor = self._db.execute(
                "INSERT INTO log_events (stream, timestamp, ingestion_time, message) VALUES (?, ?, ?, ?)",
                (name, timestamp, now_ms, message))
            self._db.execute(
                "UPDATE log_streams SET first_event = COALESCE(first_event, ?), last_event = ?, last_ingestion = ?, "
                "stored_bytes = stored_bytes + ? WHERE name = ?",
                (timestamp, timestamp, now_ms, len(message.encode("utf-8")), name))
            return LogEvent(cursor.lastrowid, timestamp, now_ms, message)

    def log_streams(self, prefix: str = "", *, by_last_event: bool = False, descending: bool = False
                    ) -> list[LogStream]:
        order = "COALESCE(last_event, creation_time)" if by_last_event else "name"
        rows = self._read(f"SELECT * FROM log_streams WHERE substr(name, 1, ?) = ? "
                          f"ORDER BY {order} {'DESC' if descending else 'ASC'}, name",
                          (len(prefix), prefix))
        return [LogStream(r["name"], r["job"], r["host"], r["creation_time"], r["first_event"], r["last_event"],
                          r["last_ingestion"], r["stored_bytes"]) for r in rows]

    def log_stream(self, name: str) -> LogStream | None:
        found = [s for s in self.log_streams(name) if s.name == name]
        return found[0] if found else None

    def log_events(self, stream: str, *, start: int | None = None, end: int | None = None,
                   after_id: int | None = None, before_id: int | None = None, limit: int = 10000,
                   from_head: bool = True) -> list[LogEvent]:
        """Events of a stream in time order: the first `limit` (from_head) or the last `limit`."""
        where, params = ["stream = ?"], [stream]
        for clause, value in (("timestamp >= ?", start), ("timestamp < ?", end), ("id > ?", after_id),
                              ("id < ?", before_id)):
            if value is not None:
                where.append(clause)
                params.append(value)
        order = "ASC" if from_head else "DESC"
        rows = self._read(f"SELECT id, timestamp, ingestion_time, message FROM log_events "
                          f"WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?", [*params, limit])
        events = [LogEvent(r["id"], r["timestamp"], r["ingestion_time"], r["message"]) for r in rows]
        return events if from_head else events[::-1]

    # ---- metrics ------------------------------------------------------------------------------

    def add_metric(self, job: str, name: str, timestamp: float, value: float) -> None:
        self._write("INSERT INTO metric_values (job, name, timestamp, value) VALUES (?, ?, ?, ?)",
                    (job, name, timestamp, value))

    def metric_values(self, job: str, name: str, start: float | None = None, end: float | None = None
                      ) -> list[MetricPoint]:
        where, params = ["job = ?", "name = ?"], [job, name]
        if start is not None:
            where.append("timestamp >= ?")
            params.append(start)
        if end is not None:
            where.append("timestamp < ?")
            params.append(end)
        return [MetricPoint(r["timestamp"], r["value"]) for r in
                self._read(f"SELECT timestamp, value FROM metric_values WHERE {' AND '.join(where)} "
                           f"ORDER BY timestamp", params)]

    def metric_names(self, job: str | None = None) -> list[tuple[str, str]]:
        """(job, metric name) pairs that have at least one value."""
        sql = "SELECT DISTINCT job, name FROM metric_values"
        rows = self._read(sql + " WHERE job = ? ORDER BY job, name", (job,)) if job else \
            self._read(sql + " ORDER BY job, name")
        return [(r["job"], r["name"]) for r in rows]


    # ---- tuning jobs --------------------------------------------------------------------------

    def insert_tuning_job(self, name: str, arn: str, request: dict, state: dict) -> None:
        """Raises DuplicateJob if the name (any letter case) is taken."""
        try:
            self._write("INSERT INTO tuning_jobs (name, arn, creation_time, last_modified_time, status, request, "
                        "state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (name, arn, epoch(state["creation_time"]), epoch(state["last_modified_time"]),
                         state["status"], _dumps(request), _dumps(state)))
        except sqlite3.IntegrityError:
            raise DuplicateJob(name) from None

    def tuning_job_arn(self, arn: str) -> str | None:
        """The ARN a tuning job is kept under, for an ARN in any letter case; None if none has it."""
        rows = self._read("SELECT arn FROM tuning_jobs WHERE arn = ? COLLATE NOCASE", (arn,))
        return rows[0]["arn"] if rows else None

    def save_tuning_state(self, name: str, state: dict) -> None:
        self._write("UPDATE tuning_jobs SET last_modified_time = ?, status = ?, state = ? WHERE name = ?",
                    (epoch(state["last_modified_time"]), state["status"], _dumps(state), name))

    def tuning_job(self, name: str) -> tuple[dict, dict] | None:
        """(request, state) of a tuning job, or None."""
        rows = self._read("SELECT request, state FROM tuning_jobs WHERE name = ? COLLATE NOCASE", (name,))
        return (json.loads(rows[0]["request"]), json.loads(rows[0]["state"])) if rows else None

    def tuning_job_names(self, *, status: tuple[str, ...] = (), name_contains: str | None = None,
                         sort_by: str = "CreationTime", descending: bool = True) -> list[str]:
        where, params = [], []
        if status:
            where.append(f"status IN ({', '.join('?' * len(status))})")
            params.extend(status)
        if name_contains:
            where.append("instr(lower(name), lower(?)) > 0")
            params.append(name_contains)
        column = {"Name": "name", "CreationTime": "creation_time", "Status": "status"}[sort_by]
        direction = "DESC" if descending else "ASC"
        return [r["name"] for r in self._read(
            f"SELECT name FROM tuning_jobs {'WHERE ' + ' AND '.join(where) if where else ''} "
            f"ORDER BY {column} {direction}, name {direction}", params)]

    def add_trial(self, tuning_job: str, number: int, training_job: str, params: dict) -> None:
        self._write("INSERT INTO tuning_trials (tuning_job, number, training_job, params) VALUES (?, ?, ?, ?)",
                    (tuning_job, number, training_job, _dumps(params)))

    def trials(self, tuning_job: str) -> list[tuple[int, str, dict]]:
        """(number, training job name, params) of a tuning job's training jobs, in order."""
        return [(r["number"], r["training_job"], json.loads(r["params"])) for r in self._read(
            "SELECT number, training_job, params FROM tuning_trials WHERE tuning_job = ? ORDER BY number",
            (tuning_job,))]


def _dumps(value: dict) -> str:
    return json.dumps(value, default=json_default, sort_keys=True)


def _job(row: sqlite3.Row) -> StoredJob:
    return StoredJob(name=row["name"], arn=row["arn"], request=json.loads(row["request"]),
                     state=json.loads(row["state"]), extra=json.loads(row["extra"]))

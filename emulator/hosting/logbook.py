"""CloudWatch log groups of endpoints and transform jobs, in the job store's file.

    /aws/sagemaker/Endpoints/<endpoint>   stream <variant>/<instance id>     (what deploy(endpoint_logging=True) tails)
    /aws/sagemaker/TransformJobs          stream <job>/<instance id>-<epoch>  (what transform(logs=True) reads)

Training jobs keep their own log tables (emulator.store); `GroupLogs` answers for one group of
this book with the same methods, so the Logs operations page through either the same way. Event
ids grow across the whole book, which is what GetLogEvents' and FilterLogEvents' tokens hold.
Timestamps never go backwards within a stream, so reading by time and by order agree.
"""
from __future__ import annotations

from emulator.hosting.records import Database
from emulator.store import LogEvent, LogStream, epoch_ms

ENDPOINTS_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    name TEXT PRIMARY KEY,
    creation_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_log_streams (
    log_group TEXT NOT NULL,
    name TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    first_event INTEGER,
    last_event INTEGER,
    last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (log_group, name)
);
CREATE TABLE IF NOT EXISTS group_log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    log_group TEXT NOT NULL,
    stream TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    ingestion_time INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS group_log_events_by_stream ON group_log_events (log_group, stream, id);
"""


def endpoint_group(endpoint: str) -> str:
    return ENDPOINTS_GROUP_PREFIX + endpoint


class LogBook:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure(_SCHEMA)

    def create_group(self, group: str) -> None:
        self.db.write("INSERT OR IGNORE INTO log_groups (name, creation_time) VALUES (?, ?)", (group, epoch_ms()))

    def groups(self) -> list[tuple[str, int]]:
        """(name, creation time in ms) of every group, by name."""
        return [(r["name"], r["creation_time"]) for r in self.db.read("SELECT * FROM log_groups ORDER BY name")]

    def group(self, name: str) -> "GroupLogs | None":
        rows = self.db.read("SELECT name FROM log_groups WHERE name = ?", (name,))
        return GroupLogs(self, name) if rows else None

    def append(self, group: str, stream: str, message: str, at: float | None = None) -> LogEvent:
        now_ms = epoch_ms(at)
        with self.db.transaction() as db:
            db.execute("INSERT OR IGNORE INTO log_groups (name, creation_time) VALUES (?, ?)", (group, now_ms))
            db.execute("INSERT OR IGNORE INTO group_log_streams (log_group, name, creation_time) VALUES (?, ?, ?)",
                       (group, stream, now_ms))
            last = db.execute("SELECT last_event FROM group_log_streams WHERE log_group = ? AND name = ?",
                              (group, stream)).fetchone()["last_event"]
            timestamp = max(now_ms, last or 0)
            cursor = db.execute("INSERT INTO group_log_events (log_group, stream, timestamp, ingestion_time, message) "
                                "VALUES (?, ?, ?, ?, ?)", (group, stream, timestamp, now_ms, message))
            db.execute("UPDATE group_log_streams SET first_event = COALESCE(first_event, ?), last_event = ?, "
                       "last_ingestion = ?, stored_bytes = stored_bytes + ? WHERE log_group = ? AND name = ?",
                       (timestamp, timestamp, now_ms, len(message.encode("utf-8")), group, stream))
        return LogEvent(cursor.lastrowid, timestamp, now_ms, message)

    def delete_group(self, group: str) -> None:
        with self.db.transaction() as db:
            for table in ("group_log_events", "group_log_streams"):
                db.execute(f"DELETE FROM {table} WHERE log_group = ?", (group,))
            db.execute("DELETE FROM log_groups WHERE name = ?", (group,))


class GroupLogs:
    """One group of the book, with the reading methods of the training jobs' store."""

    def __init__(self, book: LogBook, group: str) -> None:
        self.book = book
        self.group = group

    def log_streams(self, prefix: str = "", *, by_last_event: bool = False, descending: bool = False
                    ) -> list[LogStream]:
        order = "COALESCE(last_event, creation_time)" if by_last_event else "name"
        rows = self.book.db.read(
            f"SELECT * FROM group_log_streams WHERE log_group = ? AND substr(name, 1, ?) = ? "
            f"ORDER BY {order} {'DESC' if descending else 'ASC'}, name", (self.group, len(prefix), prefix))
        return [LogStream(r["name"], self.group, r["name"], r["creation_time"], r["first_event"], r["last_event"],
                          r["last_ingestion"], r["stored_bytes"]) for r in rows]

    def log_stream(self, name: str) -> LogStream | None:
        found = [s for s in self.log_streams(name) if s.name == name]
        return found[0] if found else None

    def log_events(self, stream: str, *, start: int | None = None, end: int | None = None,
                   after_id: int | None = None, before_id: int | None = None, limit: int = 10000,
                   from_head: bool = True) -> list[LogEvent]:
        where, params = ["log_group = ?", "stream = ?"], [self.group, stream]
        for clause, value in (("timestamp >= ?", start), ("timestamp < ?", end), ("id > ?", after_id),
                              ("id < ?", before_id)):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self.book.db.read(f"SELECT id, timestamp, ingestion_time, message FROM group_log_events "
                                 f"WHERE {' AND '.join(where)} ORDER BY id {'ASC' if from_head else 'DESC'} LIMIT ?",
                                 [*params, limit])
        events = [LogEvent(r["id"], r["timestamp"], r["ingestion_time"], r["message"]) for r in rows]
        return events if from_head else events[::-1]

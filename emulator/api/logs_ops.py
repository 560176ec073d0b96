"""The CloudWatch Logs operations `fit(logs=True)`, `deploy(endpoint_logging=True)` and
`transform(logs=True)` use, over the job store's log streams and the hosting log book.

`/aws/sagemaker/TrainingJobs` has a stream per host of each job, `<job>/algo-N-<epoch seconds>`,
as SageMaker names them (the job store); `/aws/sagemaker/Endpoints/<endpoint>` and
`/aws/sagemaker/TransformJobs` are the hosting log book's (emulator.hosting.logbook); both
answer the same reading methods. GetLogEvents pages the way CloudWatch does: tokens
`f/<event id>` (forward) and `b/<event id>` (backward); a page past the newest event is empty
and returns the same forward token, which is how the SDK knows it has read everything.
FilterLogEvents reads several streams in event order; a page that has events carries a
nextToken (where the next page starts, which the SDK's live endpoint logging keeps to poll from)
and the page after the last event has none.
"""
from __future__ import annotations

import re
import shlex

from emulator.api.errors import ApiError
from emulator.spec import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from emulator.hosting.logbook import LogBook
from emulator.store import JobStore, LogStream, epoch_ms

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
DEFAULT_EVENT_LIMIT = 10000
MAX_PAGE_BYTES = 1024 * 1024           # GetLogEvents returns at most 1 MB per page
EVENT_OVERHEAD_BYTES = 26              # CloudWatch counts 26 bytes per event on top of the message
DEFAULT_STREAM_LIMIT = 50
_TOKEN = re.compile(r"^(?P<direction>[fb])/(?P<id>\d+)$")


def _group_not_found() -> ApiError:
    return ApiError("ResourceNotFoundException", "The specified log group does not exist.")


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


class LogsOperations:
    service = "logs"
    rules = ()

    def __init__(self, store: JobStore, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT_ID,
                 book: LogBook | None = None) -> None:
        self.store = store
        self.book = book      # every other log group: endpoints, transform jobs
        self.arn_prefix = f"arn:aws:logs:{region}:{account}:log-group:"
        self.group_arn = self.arn_prefix + LOG_GROUP
        self.operations = {
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
        }

    def _source(self, params: dict):
        """The group's name and what reads it (the job store, or one group of the log book)."""
        name = self._group(params)
        if name == LOG_GROUP:
            return name, self.store
        found = self.book.group(name) if self.book is not None else None
        if found is None:
            raise _group_not_found()
        return name, found

    def _group(self, params: dict) -> str:
        group = params.get("logGroupName") or params.get("logGroupIdentifier")
        if group is None:
            raise _invalid("Either logGroupName or logGroupIdentifier must be given.")
        if params.get("logGroupName") and params.get("logGroupIdentifier"):
            raise _invalid("LogGroupName and LogGroupIdentifier are mutually exclusive.")
        # An identifier may be the group's ARN: arn:aws:logs:<region>:<account>:log-group:<name>
        return group.split(":log-group:", 1)[-1].removesuffix(":*")

    def describe_log_groups(self, params: dict) -> dict:
        prefix, pattern = params.get("logGroupNamePrefix") or "", params.get("logGroupNamePattern") or ""
        streams = self.store.log_streams()
        groups = [(LOG_GROUP, min((s.creation_time for s in streams), default=epoch_ms()), self.store)]
        if self.book is not None:
            groups += [(name, created, self.book.group(name)) for name, created in self.book.groups()]
        found = []
        for name, created, source in sorted(groups, key=lambda g: g[0]):
            if name.startswith(prefix) and pattern.lower() in name.lower():
                found.append({"logGroupName": name, "creationTime": created, "metricFilterCount": 0,
                              "storedBytes": sum(s.stored_bytes for s in source.log_streams()),
                              "arn": f"{self.arn_prefix}{name}:*"})
        return {"logGroups": found}

    def describe_log_streams(self, params: dict) -> dict:
        group, source = self._source(params)
        prefix = params.get("logStreamNamePrefix") or ""
        by_last_event = params.get("orderBy") == "LastEventTime"
        if by_last_event and prefix:
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = source.log_streams(prefix, by_last_event=by_last_event, descending=bool(params.get("descending")))
        start = 0
        if params.get("nextToken"):
            try:
                start = int(params["nextToken"])
            except ValueError:
                raise _invalid("The specified nextToken is invalid.") from None
        limit = params.get("limit", DEFAULT_STREAM_LIMIT)
        page = streams[start:start + limit]
        response = {"logStreams": [self._stream(group, s) for s in page]}
        # Only when more streams exist than were asked for (the SDK asks for one per host and
        # would loop on a token it never passes back).
        if start + limit < len(streams):
            response["nextToken"] = str(start + limit)
        return response

    def get_log_events(self, params: dict) -> dict:
        _, source = self._source(params)
        stream = source.log_stream(params["logStreamName"])
        if stream is None:
            raise ApiError("ResourceNotFoundException", "The specified log stream does not exist.")
        limit = params.get("limit", DEFAULT_EVENT_LIMIT)
        start, end = params.get("startTime"), params.get("endTime")
        token = params.get("nextToken")
        if token is not None:
            match = _TOKEN.match(token)
            if match is None:
                raise _invalid("The specified nextToken is invalid.")
            direction, anchor = match.group("direction"), int(match.group("id"))
        else:
            direction = "f" if params.get("startFromHead") else "tail"
            anchor = 0
        if direction == "f":
            events = source.log_events(stream.name, start=start, end=end, after_id=anchor, limit=limit)
        elif direction == "b":
            events = source.log_events(stream.name, start=start, end=end, before_id=anchor, limit=limit,
                                       from_head=False)
        else:  # no token, startFromHead false: the newest events
            events = source.log_events(stream.name, start=start, end=end, limit=limit, from_head=False)
        events = _within_page_size(events, from_head=direction != "b" and direction != "tail")
        if events:
            forward, backward = events[-1].id, events[0].id
        elif direction == "b":
            forward, backward = max(anchor - 1, 0), anchor
        else:
            forward, backward = anchor, anchor + 1
        return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                           for e in events],
                "nextForwardToken": f"f/{forward}", "nextBackwardToken": f"b/{backward}"}

    def filter_log_events(self, params: dict) -> dict:
        _, source = self._source(params)
        if params.get("logStreamNames") and params.get("logStreamNamePrefix"):
            raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive.")
        streams = source.log_streams(params.get("logStreamNamePrefix") or "")
        if params.get("logStreamNames"):
            streams = [s for s in streams if s.name in params["logStreamNames"]]
        after = 0
        if params.get("nextToken"):
            try:
                after = int(params["nextToken"])
            except ValueError:
                raise _invalid("The specified nextToken is invalid.") from None
        limit = params.get("limit", DEFAULT_EVENT_LIMIT)
        matches = _matcher(params.get("filterPattern") or "")
        found = sorted(((e, s.name) for s in streams
                        for e in source.log_events(s.name, start=params.get("startTime"), end=params.get("endTime"),
                                                   after_id=after, limit=limit)
                        if matches(e.message)), key=lambda pair: pair[0].id)[:limit]
        kept = _within_page_size([e for e, _ in found], from_head=True)
        events = [{"logStreamName": name, "timestamp": e.timestamp, "message": e.message,
                   "ingestionTime": e.ingestion_time, "eventId": str(e.id)} for e, name in found[:len(kept)]]
        response = {"events": events,
                    "searchedLogStreams": [{"logStreamName": s.name, "searchedCompletely": True} for s in streams]}
        if events:
            response["nextToken"] = events[-1]["eventId"]
        return response

    def _stream(self, group: str, stream: LogStream) -> dict:
        item = {"logStreamName": stream.name, "creationTime": stream.creation_time,
                "arn": f"{self.arn_prefix}{group}:log-stream:{stream.name}", "storedBytes": stream.stored_bytes}
        for key, value in (("firstEventTimestamp", stream.first_event), ("lastEventTimestamp", stream.last_event),
                           ("lastIngestionTime", stream.last_ingestion)):
            if value is not None:
                item[key] = value
        return item


def _matcher(pattern: str):
    """CloudWatch's plain filter patterns: every term (or "quoted phrase") appears, case-sensitive."""
    if pattern.strip().startswith(("{", "[")):
        raise _invalid("smlocal matches plain filter patterns only (terms and quoted phrases), not JSON or "
                       "space-delimited ones.")
    try:
        terms = shlex.split(pattern)
    except ValueError:
        raise _invalid(f"Invalid filter pattern: {pattern[:100]}") from None
    return lambda message: all(term in message for term in terms)


def _within_page_size(events: list, *, from_head: bool) -> list:
    """Cut the page at 1 MB, keeping the events nearest to where reading started."""
    ordered = events if from_head else events[::-1]
    kept, size = [], 0
    for event in ordered:
        size += len(event.message.encode("utf-8")) + EVENT_OVERHEAD_BYTES
        if size > MAX_PAGE_BYTES and kept:
            break
        kept.append(event)
    return kept if from_head else kept[::-1]

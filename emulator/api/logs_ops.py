"""The CloudWatch Logs operations `fit(logs=True)` uses, over the job store's log streams.

One log group, `/aws/sagemaker/TrainingJobs`, with a stream per host of each job,
`<job>/algo-N-<epoch seconds>`, as SageMaker names them. GetLogEvents pages the way CloudWatch
does: tokens `f/<event id>` (forward) and `b/<event id>` (backward); a page past the newest event
is empty and returns the same forward token, which is how the SDK knows it has read everything.
"""
from __future__ import annotations

import re

from emulator.api.errors import ApiError
from emulator.spec import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
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
    relaxations = ()

    def __init__(self, store: JobStore, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT_ID) -> None:
        self.store = store
        self.group_arn = f"arn:aws:logs:{region}:{account}:log-group:{LOG_GROUP}"
        self.operations = {
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
        }

    def _group(self, params: dict) -> str:
        group = params.get("logGroupName") or params.get("logGroupIdentifier")
        if group is None:
            raise _invalid("Either logGroupName or logGroupIdentifier must be given.")
        if params.get("logGroupName") and params.get("logGroupIdentifier"):
            raise _invalid("LogGroupName and LogGroupIdentifier are mutually exclusive.")
        # An identifier may be the group's ARN: arn:aws:logs:<region>:<account>:log-group:<name>
        name = group.split(":log-group:", 1)[-1].removesuffix(":*")
        if name != LOG_GROUP:
            raise _group_not_found()
        return name

    def describe_log_groups(self, params: dict) -> dict:
        prefix, pattern = params.get("logGroupNamePrefix") or "", params.get("logGroupNamePattern") or ""
        if not LOG_GROUP.startswith(prefix) or pattern.lower() not in LOG_GROUP.lower():
            return {"logGroups": []}
        streams = self.store.log_streams()
        created = min((s.creation_time for s in streams), default=epoch_ms())
        return {"logGroups": [{"logGroupName": LOG_GROUP, "creationTime": created, "metricFilterCount": 0,
                               "storedBytes": sum(s.stored_bytes for s in streams),
                               "arn": f"{self.group_arn}:*"}]}

    def describe_log_streams(self, params: dict) -> dict:
        self._group(params)
        prefix = params.get("logStreamNamePrefix") or ""
        by_last_event = params.get("orderBy") == "LastEventTime"
        if by_last_event and prefix:
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = self.store.log_streams(prefix, by_last_event=by_last_event,
                                         descending=bool(params.get("descending")))
        start = 0
        if params.get("nextToken"):
            try:
                start = int(params["nextToken"])
            except ValueError:
                raise _invalid("The specified nextToken is invalid.") from None
        limit = params.get("limit", DEFAULT_STREAM_LIMIT)
        page = streams[start:start + limit]
        response = {"logStreams": [self._stream(s) for s in page]}
        # Only when more streams exist than were asked for (the SDK asks for one per host and
        # would loop on a token it never passes back).
        if start + limit < len(streams):
            response["nextToken"] = str(start + limit)
        return response

    def get_log_events(self, params: dict) -> dict:
        self._group(params)
        stream = self.store.log_stream(params["logStreamName"])
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
            events = self.store.log_events(stream.name, start=start, end=end, after_id=anchor, limit=limit)
        elif direction == "b":
            events = self.store.log_events(stream.name, start=start, end=end, before_id=anchor, limit=limit,
                                           from_head=False)
        else:  # no token, startFromHead false: the newest events
            events = self.store.log_events(stream.name, start=start, end=end, limit=limit, from_head=False)
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


    def _stream(self, stream: LogStream) -> dict:
        item = {"logStreamName": stream.name, "creationTime": stream.creation_time,
                "arn": f"{self.group_arn}:log-stream:{stream.name}", "storedBytes": stream.stored_bytes}
        for key, value in (("firstEventTimestamp", stream.first_event), ("lastEventTimestamp", stream.last_event),
                           ("lastIngestionTime", stream.last_ingestion)):
            if value is not None:
                item[key] = value
        return item


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

"""The hosting tables and log book: names unique in any letter case, list filters and order, times
back as datetimes, log groups apart from each other and pages by event id."""
from datetime import datetime, timedelta, timezone

import pytest

from emulator.hosting.logbook import LogBook, endpoint_group
from emulator.hosting.records import ENDPOINT, MODEL, Database, Duplicate, Resources


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "smlocal.db")
    yield database
    database.close()


def test_names_are_unique_per_kind_in_any_letter_case(db):
    resources = Resources(db)
    resources.insert(MODEL, "Model-A", "arn:model/model-a", {"ModelName": "Model-A"})
    with pytest.raises(Duplicate):
        resources.insert(MODEL, "model-a", "arn:model/model-a2", {})
    resources.insert(ENDPOINT, "model-a", "arn:endpoint/model-a", {}, "Creating")  # another kind: fine
    assert resources.get(MODEL, "MODEL-A").name == "Model-A"


def test_times_in_bodies_come_back_as_datetimes(db):
    resources = Resources(db)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    resources.insert(ENDPOINT, "e", "arn:e", {"CreationTime": when, "Plan": [{"StartTime": when}],
                                             "InvocationsTimeoutInSeconds": 5}, "Creating", at=when)
    record = resources.get(ENDPOINT, "e")
    assert record.body["CreationTime"] == when and record.body["Plan"][0]["StartTime"] == when
    assert record.body["InvocationsTimeoutInSeconds"] == 5 and record.creation_time == when


def test_search_filters_sorts_and_pages(db):
    resources = Resources(db)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i, (name, status) in enumerate((("b-ep", "InService"), ("a-ep", "Failed"), ("c-other", "InService"))):
        resources.insert(ENDPOINT, name, f"arn:{name}", {}, status, at=start + timedelta(minutes=i))
    names = lambda found: [r.name for r in found]  # noqa: E731
    assert names(resources.search(ENDPOINT)) == ["c-other", "a-ep", "b-ep"]           # newest first
    assert names(resources.search(ENDPOINT, sort_by="Name", descending=False)) == ["a-ep", "b-ep", "c-other"]
    assert names(resources.search(ENDPOINT, name_contains="EP")) == ["a-ep", "b-ep"]
    assert names(resources.search(ENDPOINT, status="InService", descending=False)) == ["b-ep", "c-other"]
    assert names(resources.search(ENDPOINT, created_after=start, descending=False)) == ["a-ep", "c-other"]
    assert names(resources.search(ENDPOINT, offset=1, limit=1)) == ["a-ep"]


def test_log_groups_keep_their_streams_apart_and_times_never_go_back(db):
    book = LogBook(db)
    first, second = endpoint_group("one"), endpoint_group("two")
    book.append(first, "AllTraffic/i-1", "a", at=100.0)
    book.append(first, "AllTraffic/i-1", "b", at=99.0)   # a clock step back
    book.append(second, "AllTraffic/i-1", "c", at=101.0)
    events = book.group(first).log_events("AllTraffic/i-1")
    assert [e.message for e in events] == ["a", "b"] and events[0].timestamp == events[1].timestamp == 100000
    assert [e.message for e in book.group(second).log_events("AllTraffic/i-1")] == ["c"]
    assert [s.name for s in book.group(first).log_streams("AllTraffic/")] == ["AllTraffic/i-1"]
    assert book.group(endpoint_group("three")) is None
    assert [g for g, _ in book.groups()] == [first, second]
    after = book.group(first).log_events("AllTraffic/i-1", after_id=events[0].id)
    assert [e.message for e in after] == ["b"]

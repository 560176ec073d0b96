"""The SQLite job store: jobs, tags, log streams and metric values survive reopening."""
from datetime import datetime

import pytest

from emulator.jobhome import JobHome
from emulator.jobstate import JobResult
from emulator.store import DATABASE_NAME, DuplicateJob, JobStore


def state(name, status="InProgress", created="2026-01-01T00:00:00+00:00", secondary="Starting"):
    return JobResult(name, f"arn:x/{name.lower()}", datetime.fromisoformat(created), status, secondary).to_record()


@pytest.fixture
def store(tmp_path):
    store = JobStore.open(JobHome(tmp_path / "home"))
    yield store
    store.close()


def add(store, name, **kwargs):
    store.insert_job(name, f"arn:x/{name.lower()}", {"TrainingJobName": name}, state(name, **kwargs), {})


def test_everything_is_still_there_after_reopening(tmp_path):
    home = JobHome(tmp_path / "home")
    store = JobStore.open(home)
    add(store, "job-a")
    store.save_state("job-a", state("job-a", status="Completed", secondary="Completed"))
    store.add_tags("arn:x/job-a", [("k", "v")])
    store.append_log("job-a", "algo-1", "hello")
    store.add_metric("job-a", "loss", 100.0, 0.5)
    store.close()

    again = JobStore(home.root / DATABASE_NAME)
    assert again.job("job-a").status == "Completed"
    assert again.job("job-a").result == JobResult.from_record(state("job-a", status="Completed", secondary="Completed"))
    assert again.tags("arn:x/job-a") == [("k", "v")]
    (stream,) = again.log_streams("job-a/")
    assert [e.message for e in again.log_events(stream.name)] == ["hello"]
    assert [(p.timestamp, p.value) for p in again.metric_values("job-a", "loss")] == [(100.0, 0.5)]
    again.close()


def test_names_are_unique_regardless_of_case(store):
    add(store, "Job-A")
    with pytest.raises(DuplicateJob):
        add(store, "job-a")
    assert store.job("JOB-A").name == "Job-A"


def test_list_filters_sorts_and_pages(store):
    for i, (name, status) in enumerate([("b-job", "Completed"), ("a-job", "Failed"), ("c-other", "Completed")]):
        add(store, name, status=status, created=f"2026-01-0{i + 1}T00:00:00+00:00")
    names = lambda jobs: [j.name for j in jobs]  # noqa: E731
    assert names(store.list_jobs(descending=False)) == ["b-job", "a-job", "c-other"]
    assert names(store.list_jobs(sort_by="Name", descending=False)) == ["a-job", "b-job", "c-other"]
    assert names(store.list_jobs(sort_by="Name", descending=False, offset=1, limit=1)) == ["b-job"]
    assert names(store.list_jobs(status="Completed", name_contains="JOB")) == ["b-job"]
    day2 = 1767312000.0  # 2026-01-02T00:00:00Z
    assert names(store.list_jobs(created_after=day2, descending=False)) == ["c-other"]
    assert names(store.list_jobs(created_before=day2)) == ["b-job"]


def test_log_streams_are_per_host_and_time_never_goes_back(store):
    first = store.append_log("job", "algo-1", "one", at=1000.0)
    second = store.append_log("job", "algo-1", "two", at=999.0)   # clock stepped back
    store.append_log("job", "algo-2", "other host", at=1001.0)
    store.append_log("job-2", "algo-1", "another job", at=1002.0)
    assert [s.name for s in store.log_streams("job/")] == ["job/algo-1-1000", "job/algo-2-1001"]
    assert second.timestamp == first.timestamp == 1000000
    stream = store.log_stream("job/algo-1-1000")
    assert (stream.first_event, stream.last_event, stream.stored_bytes) == (1000000, 1000000, 6)
    events = store.log_events("job/algo-1-1000")
    assert [e.message for e in events] == ["one", "two"]
    assert [e.message for e in store.log_events("job/algo-1-1000", after_id=events[0].id)] == ["two"]
    assert [e.message for e in store.log_events("job/algo-1-1000", limit=1, from_head=False)] == ["two"]
    by_last_event = store.log_streams("", by_last_event=True, descending=True)
    assert by_last_event[0].name == "job-2/algo-1-1002"


def test_tags_keep_their_order_and_updates_replace_values(store):
    store.add_tags("arn", [("a", "1"), ("b", "2")])
    store.add_tags("arn", [("a", "3"), ("c", "4")])
    assert store.tags("arn") == [("a", "3"), ("b", "2"), ("c", "4")]
    store.delete_tags("arn", ["b", "missing"])
    assert store.tags("arn") == [("a", "3"), ("c", "4")]


def test_active_jobs_and_extra(store):
    add(store, "running")
    add(store, "done", status="Completed")
    store.update_extra("running", processes={"pids": {"algo-1": 42}})
    assert [j.name for j in store.active_jobs()] == ["running"]
    assert store.job("running").extra == {"processes": {"pids": {"algo-1": 42}}}


def test_deleting_a_job_deletes_its_tags_logs_and_metrics_only(store):
    for name in ("gone", "kept"):
        add(store, name)
        store.add_tags(f"arn:x/{name}", [("k", name)])
        store.append_log(name, "algo-1", "line")
        store.add_metric(name, "loss", 1.0, 0.5)
    store.delete_job("gone")
    assert store.job("gone") is None and store.tags("arn:x/gone") == [] and store.metric_names("gone") == []
    assert [s.job for s in store.log_streams("")] == ["kept"]
    assert store.job("kept") is not None and store.tags("arn:x/kept") == [("k", "kept")]

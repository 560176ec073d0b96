"""At most N hosts at once, jobs first come first served; a waiting job can leave the queue."""
import threading
import time

import pytest

from emulator.api.scheduler import HostSlots
from emulator.api.server import concurrent_hosts


def _run_in_background(slots, name, cancelled=lambda: False):
    result = []
    thread = threading.Thread(target=lambda: result.append(slots.wait_turn(name, cancelled=cancelled)))
    thread.start()
    return thread, result


def test_jobs_run_in_submission_order_within_the_limit():
    slots = HostSlots(2)
    order, running, peak = [], [0], [0]
    lock = threading.Lock()

    def job(name):
        assert slots.wait_turn(name, cancelled=lambda: False)
        with lock:
            order.append(name)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        slots.release(name)

    threads = []
    for i in range(5):
        slots.enqueue(f"job-{i}")
        threads.append(threading.Thread(target=job, args=(f"job-{i}",)))
    for thread in reversed(threads):  # start order must not matter: the queue decides
        thread.start()
    for thread in threads:
        thread.join(5)
    assert order[:2] == sorted(order[:2]) and set(order[:2]) == {"job-0", "job-1"}
    assert order[2:] == ["job-2", "job-3", "job-4"]
    assert peak[0] == 2 and slots.running_jobs == 0 and slots.waiting == 0


def test_a_two_host_job_takes_two_slots():
    slots = HostSlots(2)
    slots.enqueue("wide", hosts=2)
    assert slots.wait_turn("wide", cancelled=lambda: False)
    assert slots.running_hosts == 2 and slots.would_wait(1)
    slots.enqueue("small", hosts=1)
    thread, result = _run_in_background(slots, "small")
    time.sleep(0.2)
    assert result == [], "a 1-host job started while a 2-host job held both slots"
    slots.release("wide")
    thread.join(2)
    assert result == [True] and slots.running_hosts == 1


def test_a_wide_job_at_the_head_is_not_overtaken():
    slots = HostSlots(2)
    slots.enqueue("one", hosts=1)
    assert slots.wait_turn("one", cancelled=lambda: False)
    slots.enqueue("wide", hosts=2)
    slots.enqueue("small", hosts=1)
    wide, wide_result = _run_in_background(slots, "wide")
    small, small_result = _run_in_background(slots, "small")
    time.sleep(0.2)
    # One slot is free, but "small" came after "wide": it waits rather than starve it.
    assert wide_result == [] and small_result == []
    slots.release("one")
    wide.join(2)
    assert wide_result == [True] and small_result == []
    slots.release("wide")
    small.join(2)
    assert small_result == [True]


def test_a_job_wider_than_the_server_never_queues():
    slots = HostSlots(2)
    assert slots.fits(2) and not slots.fits(3)
    with pytest.raises(ValueError, match="never run"):
        slots.enqueue("too-wide", hosts=3)
    assert slots.waiting == 0


def test_a_cancelled_waiting_job_leaves_without_a_slot():
    slots = HostSlots(1)
    slots.enqueue("busy")
    assert slots.wait_turn("busy", cancelled=lambda: False)
    assert slots.enqueue("waiting") == 1
    stop = threading.Event()
    thread, result = _run_in_background(slots, "waiting", cancelled=stop.is_set)
    time.sleep(0.2)
    stop.set()
    slots.wake()
    thread.join(2)
    assert result == [False] and slots.waiting == 0 and slots.running_jobs == 1


def test_at_least_one_slot():
    with pytest.raises(ValueError, match="at least 1"):
        HostSlots(0)


def test_the_server_never_trains_more_hosts_at_once_than_the_machine_runs(monkeypatch, caplog):
    monkeypatch.setenv("SMLOCAL_MAX_HOSTS", "3")
    assert concurrent_hosts(2) == 2
    assert concurrent_hosts(8) == 3
    assert concurrent_hosts(None) == 3  # the default: as many as the machine runs
    assert "SMLOCAL_MAX_HOSTS raises the machine's limit" in caplog.text

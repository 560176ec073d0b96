"""At most N jobs at once, first come first served; a waiting job can leave the queue."""
import threading
import time

import pytest

from emulator.api.scheduler import JobSlots


def test_jobs_run_in_submission_order_within_the_limit():
    slots = JobSlots(2)
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
        slots.release()

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
    assert peak[0] == 2 and slots.running == 0 and slots.waiting == 0


def test_a_cancelled_waiting_job_leaves_without_a_slot():
    slots = JobSlots(1)
    slots.enqueue("busy")
    assert slots.wait_turn("busy", cancelled=lambda: False)
    assert slots.enqueue("waiting") == 1
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(slots.wait_turn("waiting", cancelled=stop.is_set)))
    thread.start()
    time.sleep(0.2)
    stop.set()
    slots.wake()
    thread.join(2)
    assert result == [False] and slots.waiting == 0 and slots.running == 1


def test_at_least_one_slot():
    with pytest.raises(ValueError, match="at least 1"):
        JobSlots(0)

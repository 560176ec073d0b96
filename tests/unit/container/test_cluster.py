"""The control link between the hosts' launchers: rendezvous on job-derived ports, exit news."""
import json
import socket
import time
from pathlib import Path

import pytest

from container import cluster
from container.config import ResourceConfig
from container.errors import AlgorithmError
from container.stop import StopSignal

HOSTS = ("algo-1", "algo-2")


def resources(host, hosts=HOSTS):
    return ResourceConfig(current_host=host, hosts=hosts)


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def coordinator():
    links = []

    def start(job="job-a", hosts=HOSTS, scheduler_port=12345):
        link = cluster.Coordinator(job, resources(hosts[0], hosts), "127.0.0.1")
        links.append(link)
        link.open(scheduler_port)
        return link

    yield start
    for link in links:
        link.close()


def test_job_identity_tells_same_named_jobs_of_two_emulator_homes_apart(tmp_path):
    one = cluster.job_identity("job", tmp_path / "home1" / "jobs" / "job" / "hosts" / "algo-2", "algo-2")
    assert one == cluster.job_identity("job", tmp_path / "home1" / "jobs" / "job" / "hosts" / "algo-1", "algo-1")
    assert one != cluster.job_identity("job", tmp_path / "home2" / "jobs" / "job" / "hosts" / "algo-2", "algo-2")
    assert cluster.job_identity("job", Path("/opt/ml"), "algo-1") == "job"  # SageMaker, Docker


def test_control_ports_are_the_same_on_every_host_and_differ_between_jobs():
    ports = cluster.control_ports("job-a")
    assert ports == cluster.control_ports("job-a")
    assert len(set(ports)) == len(ports) == cluster.CONTROL_PORT_CANDIDATES
    assert all(cluster.CONTROL_PORT_RANGE[0] <= p < cluster.CONTROL_PORT_RANGE[1] for p in ports)
    assert ports[0] != cluster.control_ports("job-b")[0]


def test_a_host_joins_its_own_job_when_another_job_holds_the_first_port(coordinator, monkeypatch):
    shared = [p for p in cluster.control_ports("job-a") if _free(p)][:3]
    monkeypatch.setattr(cluster, "control_ports", lambda job: shared)
    other = coordinator(job="job-b", scheduler_port=1111)   # takes shared[0]
    mine = coordinator(job="job-a", scheduler_port=2222)    # so this one listens on shared[1]
    assert (other.port, mine.port) == (shared[0], shared[1])
    link = cluster.join("job-a", resources("algo-2"), "127.0.0.1", StopSignal(), timeout=10)
    assert link.scheduler_port == 2222
    assert wait_until(lambda: mine.complete) and not other.complete
    link.close()


def test_exit_news_travel_both_ways(coordinator):
    host1 = coordinator()
    host2 = cluster.join("job-a", resources("algo-2"), "127.0.0.1", StopSignal(), timeout=10)
    assert wait_until(lambda: host1.complete)
    host2.announce_exit(2, finished=True)
    assert wait_until(lambda: host1.first_failure() is not None)
    assert host1.first_failure() == cluster.PeerEnd("algo-2", 2, True)
    host1.announce_exit(0, finished=True)  # nobody left to tell: algo-2 already said goodbye
    host2.close()


def test_a_finished_peer_is_not_a_failure_but_a_vanished_one_is(coordinator):
    host1 = coordinator(hosts=("algo-1", "algo-2", "algo-3"))
    three = ("algo-1", "algo-2", "algo-3")
    host2 = cluster.join("job-a", resources("algo-2", three), "127.0.0.1", StopSignal(), timeout=10)
    host3 = cluster.join("job-a", resources("algo-3", three), "127.0.0.1", StopSignal(), timeout=10)
    assert wait_until(lambda: host1.complete)
    host2.announce_exit(0, finished=True)
    assert wait_until(lambda: len(host1.ended) == 1)
    assert host1.first_failure() is None
    host3.close()  # its launcher died without a word
    assert wait_until(lambda: host1.first_failure() is not None)
    assert host1.first_failure() == cluster.PeerEnd("algo-3", None, False)
    host2.close()


def test_an_unknown_host_is_refused(coordinator):
    coordinator()
    with pytest.raises(AlgorithmError, match="unexpected host 'algo-9'"):
        cluster.join("job-a", resources("algo-9", ("algo-1", "algo-9")), "127.0.0.1", StopSignal(), timeout=10)


def test_joining_gives_up_on_sigterm_and_after_the_timeout():
    stop = StopSignal()
    stop.request()
    assert cluster.join("nobody-listens", resources("algo-2"), "127.0.0.1", stop, timeout=10) is None
    started = time.monotonic()
    with pytest.raises(AlgorithmError, match="Could not reach algo-1"):
        cluster.join("nobody-listens", resources("algo-2"), "127.0.0.1", StopSignal(), timeout=0.5)
    assert time.monotonic() - started < 5


def test_a_stranger_on_a_candidate_port_is_skipped(coordinator, monkeypatch):
    shared = [p for p in cluster.control_ports("job-a") if _free(p)][:2]
    monkeypatch.setattr(cluster, "control_ports", lambda job: shared)
    stranger = socket.socket()
    stranger.bind(("127.0.0.1", shared[0]))
    stranger.listen()  # accepts, never answers: the joiner times out on it and moves on
    monkeypatch.setattr(cluster, "_REPLY_TIMEOUT_SECONDS", 0.3)
    mine = coordinator()
    assert mine.port == shared[1]
    link = cluster.join("job-a", resources("algo-2"), "127.0.0.1", StopSignal(), timeout=10)
    assert link.scheduler_port == 12345
    link.close()
    stranger.close()


def test_host_addresses_come_from_the_emulator_or_dns():
    env = {"SMLOCAL_HOST_ADDRESSES": json.dumps({"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"})}
    assert cluster.host_addresses(resources("algo-1"), env) == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    with pytest.raises(AlgorithmError, match="no address for host"):
        cluster.host_addresses(resources("algo-1"), {"SMLOCAL_HOST_ADDRESSES": json.dumps({"algo-1": "127.0.0.1"})})
    assert cluster.host_addresses(ResourceConfig("localhost", ("localhost",)), {}) == {"localhost": "127.0.0.1"}
    with pytest.raises(AlgorithmError, match="did not resolve"):
        cluster.host_addresses(ResourceConfig("algo-1", ("algo-1",)), {}, timeout=0)


def _free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

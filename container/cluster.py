"""The hosts of a multi-host job: their addresses, and a control link between their launchers.

Host 1 (the first name in resourceconfig.json's sorted `hosts`) coordinates: it listens on a
control port, tells every other host which port the parameter-server scheduler uses, and the
connections stay open for the whole job. Through them each launcher learns at once when
another host's training ended (and how), so a failure on one host never leaves the others
blocked in a parameter-server call waiting for a peer that is gone.

No port is fixed, so several jobs (and several hosts of one job) can share one address, as
they do on the emulator's loopback: the control port is the first free one of a list derived
from the job name, and a host that reaches a port checks that the job name answering matches.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from container.config import ResourceConfig
from container.errors import AlgorithmError
from container.logs import get_logger
from container.stop import StopSignal

HOST_ADDRESSES_VARIABLE = "SMLOCAL_HOST_ADDRESSES"
# Below Linux's ephemeral range (32768-60999), so outgoing connections never hold these ports.
CONTROL_PORT_RANGE = (20000, 32000)
CONTROL_PORT_CANDIDATES = 16
JOIN_TIMEOUT_SECONDS = 600.0    # how long other hosts wait for host 1 to come up
RESOLVE_TIMEOUT_SECONDS = 300.0  # host names may not resolve at once (SageMaker asks for retries)
_REPLY_TIMEOUT_SECONDS = 5.0


def host_addresses(resources: ResourceConfig, environ: dict[str, str] | None = None,
                   timeout: float = RESOLVE_TIMEOUT_SECONDS) -> dict[str, str]:
    """IPv4 address of every host. The emulator names them in SMLOCAL_HOST_ADDRESSES (its host
    names are not in DNS); on SageMaker the names resolve, possibly only after a while."""
    env = os.environ if environ is None else environ
    given = env.get(HOST_ADDRESSES_VARIABLE)
    if given:
        try:
            mapping = json.loads(given)
        except json.JSONDecodeError as exc:
            raise AlgorithmError(f"{HOST_ADDRESSES_VARIABLE} is not valid JSON: {exc}") from exc
        missing = [h for h in resources.hosts if h not in mapping]
        if missing:
            raise AlgorithmError(f"{HOST_ADDRESSES_VARIABLE} has no address for host(s) {', '.join(missing)}")
        return {h: str(mapping[h]) for h in resources.hosts}
    deadline = time.monotonic() + timeout
    addresses = {}
    for host in resources.hosts:
        while True:
            try:
                addresses[host] = socket.gethostbyname(host)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise AlgorithmError(f"Host name {host} did not resolve within {timeout:.0f} s: {exc}") from exc
                time.sleep(1.0)
    return addresses


def job_identity(job_name: str, base: Path, current_host: str) -> str:
    """What tells this job's hosts from those of another job on the same address. On SageMaker
    and under Docker (container names include the job name) the name is unique; the emulator's
    process runner keeps host trees side by side (<job folder>/hosts/<host>), and two emulator
    homes may run jobs of the same name at once, so the job folder is part of it there."""
    if base.name == current_host:
        return f"{job_name}@{base.resolve().parent}"
    return job_name


def control_ports(job_name: str) -> list[int]:
    """Candidate control ports, the same list on every host of the job, different per job."""
    low, high = CONTROL_PORT_RANGE
    digest = int.from_bytes(hashlib.sha256(job_name.encode()).digest()[:8], "big")
    span = high - low
    ports: list[int] = []
    step = 7919  # a prime larger than the span's factors: the candidates are spread and distinct
    for i in range(CONTROL_PORT_CANDIDATES):
        port = low + (digest + i * step) % span
        if port not in ports:
            ports.append(port)
    return ports


def free_port(address: str) -> int:
    """A port nothing listens on now (another process may take it before it is bound again:
    callers check that their server came up on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0):
            return True
    except OSError:
        return False


def _send(sock: socket.socket, message: dict) -> None:
    try:
        sock.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass  # the other side is gone; its reader notices


@dataclass
class PeerEnd:
    """How another host's launcher ended, as seen through the control link."""

    host: str
    exit_code: int | None  # None: the connection dropped without a word (killed, crashed)
    finished: bool = False  # its worker ran to its own end (False: it was ended from outside)

    @property
    def failed(self) -> bool:
        return not self.finished or self.exit_code != 0


class ControlLink:
    """Both ends of the control connections; `Coordinator` and `join` build one."""

    def __init__(self, job: str, host: str, expected_peers: int) -> None:
        self.job, self.host = job, host
        self.expected_peers = expected_peers
        self.scheduler_port = 0
        self._lock = threading.Lock()
        self._sockets: dict[str, socket.socket] = {}
        self._ended: list[PeerEnd] = []
        self._joined: set[str] = set()
        self._closed = False

    # -- what the launcher asks ----------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """True once every other host has joined (so the parameter-server group can form)."""
        with self._lock:
            return len(self._joined) >= self.expected_peers

    @property
    def ended(self) -> list[PeerEnd]:
        with self._lock:
            return list(self._ended)

    def first_failure(self) -> PeerEnd | None:
        return next((end for end in self.ended if end.failed), None)

    def announce_exit(self, code: int, finished: bool) -> None:
        """Tell the other end(s) how this host's training ended."""
        with self._lock:
            sockets = list(self._sockets.values())
        for sock in sockets:
            _send(sock, {"exit": code, "finished": finished})

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets = list(self._sockets.values())
            self._sockets.clear()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    # -- connection bookkeeping ----------------------------------------------------------------
    def _attach(self, peer: str, sock: socket.socket, reader) -> None:
        with self._lock:
            self._sockets[peer] = sock
            self._joined.add(peer)
        threading.Thread(target=self._listen, args=(peer, sock, reader), daemon=True,
                         name=f"control-{peer}").start()

    def _listen(self, peer: str, sock: socket.socket, reader) -> None:
        end = PeerEnd(peer, None)
        try:
            for line in reader:
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(message, dict) and "exit" in message:
                    end = PeerEnd(peer, int(message["exit"]), bool(message.get("finished")))
                    break
        except (OSError, ValueError):
            pass
        with self._lock:
            if self._closed:
                return
            self._sockets.pop(peer, None)
            self._ended.append(end)


class Coordinator(ControlLink):
    """Host 1's end: holds the job's first free control port from the start, and welcomes the
    others once `open()` has told it the scheduler's port (until then they are refused and retry)."""

    def __init__(self, job: str, resources: ResourceConfig, address: str) -> None:
        super().__init__(job, resources.current_host, len(resources.hosts) - 1)
        self.others = set(resources.hosts) - {resources.current_host}
        self.address = address
        self._server = self._bind_free_candidate(address)

    def open(self, scheduler_port: int) -> None:
        self.scheduler_port = scheduler_port
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True, name="control-accept").start()
        get_logger().info("Coordinating %d host(s) on %s:%d", self.expected_peers + 1, self.address, self.port)

    def _bind_free_candidate(self, address: str) -> socket.socket:
        for port in control_ports(self.job):
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                server.bind((address, port))
            except OSError:
                server.close()
                continue
            self.port = port
            return server
        raise AlgorithmError(f"No free control port on {address} among {control_ports(self.job)}")

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._welcome, args=(sock,), daemon=True, name="control-welcome").start()

    def _welcome(self, sock: socket.socket) -> None:
        sock.settimeout(_REPLY_TIMEOUT_SECONDS)
        reader = sock.makefile("r", encoding="utf-8")
        try:
            hello = json.loads(reader.readline() or "null")
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            sock.close()
            return
        if not isinstance(hello, dict) or hello.get("job") != self.job:
            _send(sock, {"job": self.job, "error": "another job"})
            sock.close()
            return
        peer = hello.get("host")
        with self._lock:
            known = peer in self.others and peer not in self._joined
        if not known:
            _send(sock, {"job": self.job, "error": f"unexpected host {peer!r}"})
            sock.close()
            return
        sock.settimeout(None)
        _send(sock, {"job": self.job, "scheduler_port": self.scheduler_port})
        self._attach(peer, sock, reader)

    def close(self) -> None:
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread; close() alone does not
        except OSError:
            pass
        self._server.close()
        super().close()


def join(job: str, resources: ResourceConfig, coordinator_address: str, stop: StopSignal,
         timeout: float = JOIN_TIMEOUT_SECONDS) -> ControlLink | None:
    """Another host's end: find host 1's control port and join. None if SIGTERM came first."""
    coordinator = resources.hosts[0]
    link = ControlLink(job, resources.current_host, 1)
    deadline = time.monotonic() + timeout
    while not stop.requested:
        for port in control_ports(job):
            reply = _try_port(job, resources.current_host, coordinator_address, port)
            if reply is None:
                continue
            sock, reader, message = reply
            if "error" in message:
                sock.close()
                raise AlgorithmError(f"{coordinator} refused {resources.current_host}: {message['error']}")
            link.scheduler_port = int(message["scheduler_port"])
            link._attach(coordinator, sock, reader)
            get_logger().info("Joined %s at %s:%d", coordinator, coordinator_address, port)
            return link
        if time.monotonic() >= deadline:
            raise AlgorithmError(
                f"Could not reach {coordinator} ({coordinator_address}) within {timeout:.0f} s to start "
                f"distributed training")
        time.sleep(0.2)
    return None


def _try_port(job: str, host: str, address: str, port: int):
    """(socket, reader, reply) when this port answers for our job; None otherwise."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(_REPLY_TIMEOUT_SECONDS)
    try:
        sock.connect((address, port))
        _send(sock, {"job": job, "host": host})
        reader = sock.makefile("r", encoding="utf-8")
        message = json.loads(reader.readline() or "null")
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        sock.close()
        return None
    if not isinstance(message, dict) or message.get("job") != job:
        sock.close()
        return None
    sock.settimeout(None)
    return sock, reader, message

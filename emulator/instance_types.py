"""SageMaker training instance types: vCPUs, memory and GPUs, and what a local container gets.

The figures are the published EC2 specifications of the instance families SageMaker trains on
(ml.m4/m5/c5 CPU, ml.p2/p3/g4dn/g5 GPU). `local` and `local_gpu` are the SDK's local-mode
types: the whole host, without or with its GPUs. A container never gets more than the host
has: limits are capped at the host's CPUs and memory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int | None         # None: the whole host (local modes)
    memory_gib: float | None  # None: the whole host
    gpus: int                 # -1: every GPU the host has (local_gpu)

    @property
    def wants_gpu(self) -> bool:
        return self.gpus != 0

    @property
    def is_local(self) -> bool:
        return self.vcpus is None


def _family(prefix: str, sizes: dict[str, tuple[int, float, int]]) -> dict[str, InstanceType]:
    return {f"ml.{prefix}.{size}": InstanceType(f"ml.{prefix}.{size}", cpu, mem, gpu)
            for size, (cpu, mem, gpu) in sizes.items()}


INSTANCE_TYPES: dict[str, InstanceType] = {
    "local": InstanceType("local", None, None, 0),
    "local_gpu": InstanceType("local_gpu", None, None, -1),
    **_family("m4", {"xlarge": (4, 16, 0), "2xlarge": (8, 32, 0), "4xlarge": (16, 64, 0),
                     "10xlarge": (40, 160, 0), "16xlarge": (64, 256, 0)}),
    **_family("m5", {"large": (2, 8, 0), "xlarge": (4, 16, 0), "2xlarge": (8, 32, 0),
                     "4xlarge": (16, 64, 0), "12xlarge": (48, 192, 0), "24xlarge": (96, 384, 0)}),
    **_family("c5", {"xlarge": (4, 8, 0), "2xlarge": (8, 16, 0), "4xlarge": (16, 32, 0),
                     "9xlarge": (36, 72, 0), "18xlarge": (72, 144, 0)}),
    **_family("p2", {"xlarge": (4, 61, 1), "8xlarge": (32, 488, 8), "16xlarge": (64, 732, 16)}),
    **_family("p3", {"2xlarge": (8, 61, 1), "8xlarge": (32, 244, 4), "16xlarge": (64, 488, 8)}),
    **_family("p3dn", {"24xlarge": (96, 768, 8)}),
    **_family("g4dn", {"xlarge": (4, 16, 1), "2xlarge": (8, 32, 1), "4xlarge": (16, 64, 1),
                       "8xlarge": (32, 128, 1), "12xlarge": (48, 192, 4), "16xlarge": (64, 256, 1)}),
    **_family("g5", {"xlarge": (4, 16, 1), "2xlarge": (8, 32, 1), "4xlarge": (16, 64, 1),
                     "8xlarge": (32, 128, 1), "12xlarge": (48, 192, 4), "16xlarge": (64, 256, 1),
                     "24xlarge": (96, 384, 4), "48xlarge": (192, 768, 8)}),
}


class UnknownInstanceType(ValueError):
    pass


def lookup(name: str) -> InstanceType:
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        families = sorted({n.rsplit(".", 1)[0] + ".*" for n in INSTANCE_TYPES if n.startswith("ml.")})
        raise UnknownInstanceType(
            f"InstanceType {name!r} is not supported; allowed: local, local_gpu or one of "
            f"{', '.join(families)} (e.g. ml.m5.xlarge, ml.p3.2xlarge)") from None


@dataclass(frozen=True)
class HostCapacity:
    cpus: int
    memory_bytes: int

    @classmethod
    def detect(cls) -> "HostCapacity":
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return cls(cpus=cpus, memory_bytes=memory)


HOST_LIMIT_ENV = "SMLOCAL_MAX_HOSTS"
# The least memory one host of the built-in algorithms trains in (a tiny ResNet-18 job).
HOST_MEMORY_BYTES = 1024 ** 3


def machine_host_limit(capacity: HostCapacity | None = None) -> int:
    """How many hosts (training processes or containers) this machine runs at once by default.

    One per CPU, but at least 2 so that multi-host training can always be tried, and at most
    one per GiB of memory: 50 hosts on 2 cores would only thrash.
    """
    capacity = capacity or HostCapacity.detect()
    return max(1, min(max(2, capacity.cpus), capacity.memory_bytes // HOST_MEMORY_BYTES))


def host_limit(environ=os.environ, capacity: HostCapacity | None = None) -> int:
    """$SMLOCAL_MAX_HOSTS when set (to raise or lower the limit), else `machine_host_limit()`."""
    value = environ.get(HOST_LIMIT_ENV)
    if value is None or value == "":
        return machine_host_limit(capacity)
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(f"{HOST_LIMIT_ENV} must be a whole number of hosts, 1 or more; got {value!r}")
    return limit


@dataclass(frozen=True)
class ContainerLimits:
    nano_cpus: int | None      # docker --cpus, in units of 1e-9 CPUs; None: no limit
    memory_bytes: int | None   # docker --memory; None: no limit
    shm_bytes: int             # /dev/shm size for data loader workers


GIB = 1024 ** 3
# Data loader workers pass batches through /dev/shm; Docker's default of 64 MiB is too small.
# Half the container's memory (at most 16 GiB, at least 1 GiB) leaves room for the process itself.
MIN_SHM = 1 * GIB
MAX_SHM = 16 * GIB


def container_limits(instance: InstanceType, host: HostCapacity, hosts_on_machine: int = 1) -> ContainerLimits:
    """CPU/memory limits for one container: the instance's size, capped at the machine's share.

    With several hosts of one job on the same machine, each gets at most its share of the
    machine, so that together they fit.
    """
    share = max(1, hosts_on_machine)
    host_cpus = max(host.cpus / share, 0.01)
    host_memory = host.memory_bytes // share
    if instance.is_local:
        cpus, memory = (host_cpus if share > 1 else None), (host_memory if share > 1 else None)
    else:
        cpus = min(float(instance.vcpus), host_cpus)
        memory = min(int(instance.memory_gib * GIB), host_memory)
    shm_base = memory if memory is not None else host_memory
    shm = int(min(MAX_SHM, max(MIN_SHM, shm_base // 2)))
    return ContainerLimits(
        nano_cpus=None if cpus is None else int(cpus * 1e9),
        memory_bytes=memory,
        shm_bytes=shm,
    )


def visible_gpu_count() -> int:
    """GPUs this machine's processes can use, as `nvidia-smi --list-gpus` counts them (0 without a driver)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listed = subprocess.run([smi, "--list-gpus"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    if listed.returncode != 0:
        return 0
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))

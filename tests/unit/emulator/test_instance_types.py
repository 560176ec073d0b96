import pytest

from emulator.instance_types import (GIB, INSTANCE_TYPES, MAX_SHM, MIN_SHM, HostCapacity, UnknownInstanceType,
                                     container_limits, lookup)

BIG_HOST = HostCapacity(cpus=256, memory_bytes=2048 * GIB)
SMALL_HOST = HostCapacity(cpus=2, memory_bytes=8 * GIB)


@pytest.mark.parametrize("name,vcpus,memory,gpus", [
    ("ml.m5.xlarge", 4, 16, 0), ("ml.c5.2xlarge", 8, 16, 0), ("ml.m4.16xlarge", 64, 256, 0),
    ("ml.p2.xlarge", 4, 61, 1), ("ml.p3.8xlarge", 32, 244, 4), ("ml.g4dn.12xlarge", 48, 192, 4),
    ("ml.g5.48xlarge", 192, 768, 8),
])
def test_published_sizes(name, vcpus, memory, gpus):
    instance = lookup(name)
    assert (instance.vcpus, instance.memory_gib, instance.gpus) == (vcpus, memory, gpus)
    assert instance.wants_gpu == (gpus > 0)


def test_every_family_the_product_supports_is_in_the_table():
    families = {name.split(".")[1] for name in INSTANCE_TYPES if name.startswith("ml.")}
    assert {"m4", "m5", "c5", "p2", "p3", "g4dn", "g5"} <= families


def test_local_modes_take_the_whole_host():
    assert not lookup("local").wants_gpu and lookup("local_gpu").wants_gpu
    limits = container_limits(lookup("local"), SMALL_HOST)
    assert limits.nano_cpus is None and limits.memory_bytes is None


def test_unknown_type_names_what_is_allowed():
    with pytest.raises(UnknownInstanceType) as err:
        lookup("ml.t2.medium")
    message = str(err.value)
    assert "'ml.t2.medium'" in message and "local_gpu" in message and "ml.g4dn.*" in message


def test_limits_are_the_instance_size_on_a_big_host():
    limits = container_limits(lookup("ml.c5.xlarge"), BIG_HOST)
    assert limits.nano_cpus == 4 * 10**9
    assert limits.memory_bytes == 8 * GIB


def test_limits_are_capped_at_what_the_host_has():
    limits = container_limits(lookup("ml.p3.16xlarge"), SMALL_HOST)
    assert limits.nano_cpus == 2 * 10**9
    assert limits.memory_bytes == 8 * GIB


def test_several_hosts_on_one_machine_share_it():
    limits = container_limits(lookup("ml.m5.24xlarge"), SMALL_HOST, hosts_on_machine=2)
    assert limits.nano_cpus == 1 * 10**9
    assert limits.memory_bytes == 4 * GIB
    local = container_limits(lookup("local"), SMALL_HOST, hosts_on_machine=2)
    assert local.nano_cpus == 1 * 10**9 and local.memory_bytes == 4 * GIB


def test_shm_is_half_the_memory_within_bounds():
    assert container_limits(lookup("ml.m5.2xlarge"), BIG_HOST).shm_bytes == 16 * GIB  # 32 GiB / 2
    assert container_limits(lookup("ml.m5.large"), BIG_HOST).shm_bytes == 4 * GIB
    assert container_limits(lookup("ml.p3.16xlarge"), BIG_HOST).shm_bytes == MAX_SHM
    tiny = HostCapacity(cpus=1, memory_bytes=1 * GIB)
    assert container_limits(lookup("ml.m5.large"), tiny).shm_bytes == MIN_SHM

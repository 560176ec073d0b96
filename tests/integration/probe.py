"""Runs inside the image (as the container's entry point) and reports what the container got.

Usage: python -c "<this file>" MODE [FAIL_HOST]
  MODE report: write /opt/ml/model/probe.json and files for the ownership check, exit 0
  MODE wait:   report, print "ready", wait for SIGTERM (exit 0 after writing output/stopped)
  MODE ignore-term: report, print "ready", ignore SIGTERM and sleep
  FAIL_HOST: the host of that name exits 3 right away
"""
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path


def read(path):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cgroup_limits():
    memory = read("/sys/fs/cgroup/memory/memory.limit_in_bytes") or read("/sys/fs/cgroup/memory.max")
    quota, period = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    if quota is None and read("/sys/fs/cgroup/cpu.max"):
        quota, period = read("/sys/fs/cgroup/cpu.max").split()
    cpus = None if quota in (None, "-1", "max") else int(quota) / int(period)
    return {"memory": None if memory in (None, "max") else int(memory), "cpus": cpus}


def writable(directory):
    try:
        probe = Path(directory) / ".probe-write"
        probe.write_text("x")
        probe.unlink()
        return True
    except OSError:
        return False


def main():
    mode = sys.argv[1]
    host = socket.gethostname()
    if len(sys.argv) > 2 and sys.argv[2] == host:
        print(f"{host} fails on purpose", flush=True)
        sys.exit(3)
    addresses = json.loads(os.environ.get("SMLOCAL_HOST_ADDRESSES", "{}"))
    checkpoint_dir = json.loads(read("/opt/ml/input/config/checkpointconfig.json") or "{}").get("LocalPath")
    shm = os.statvfs("/dev/shm")
    report = {
        "pid": os.getpid(),
        "hostname": host,
        "resolved": {name: socket.gethostbyname(name) for name in addresses},
        "addresses": addresses,
        "interfaces": sorted(os.listdir("/sys/class/net")),
        "shm_bytes": shm.f_blocks * shm.f_frsize,
        "limits": cgroup_limits(),
        "writable": {d: writable(d) for d in ("/opt/ml/input/config", "/opt/ml/input/data", "/opt/ml/model",
                                              "/opt/ml/output", checkpoint_dir or "/opt/ml/checkpoints",
                                              "/opt/ml-models") if os.path.isdir(d)},
        "channels": sorted(os.listdir("/opt/ml/input/data")),
        "env": {k: os.environ.get(k) for k in ("TRAINING_JOB_NAME", "SAGEMAKER_ALGORITHM", "FOO")},
    }
    model = Path("/opt/ml/model")
    (model / "nested").mkdir(exist_ok=True)
    (model / "nested" / "weights.bin").write_bytes(b"\0" * 10)
    (model / "link").symlink_to("nested/weights.bin")
    (Path("/opt/ml/output/data") / "extra.txt").write_text("x")
    if checkpoint_dir:
        (Path(checkpoint_dir) / "ckpt.bin").write_bytes(b"c")
    (model / "probe.json").write_text(json.dumps(report))
    if mode == "report":
        return 0
    if mode == "wait":
        def on_term(signum, frame):
            Path("/opt/ml/output/stopped").write_text("SIGTERM")
            print("got SIGTERM", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    while True:
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())

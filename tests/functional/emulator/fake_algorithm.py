"""A stand-in for `python -m container train`, driven by its hyperparameters.

Run by the process runner in the emulator's tests. It reads only what SageMaker gives a
container (SAGEMAKER_BASE_DIR tree, environment) and records what it saw in output/data so
tests can assert on it. Hyperparameters:
  lines        JSON list of log lines to print (metric lines etc.)
  sleep        seconds to run (in 0.05 s steps) before finishing
  on_sigterm   "save" (default: write model/stopped.txt, exit 0) or "ignore"
  exit_code    exit with this code (after writing `failure`, if given)
  fail_on_host only that host fails (the others follow `sleep`)
  failure      text for output/failure
  pipe_epochs  for each Pipe channel, read this many epochs from <channel>_<epoch>
  checkpoints  write this many files into the checkpoint dir, one every 0.2 s
"""
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

base = Path(os.environ["SAGEMAKER_BASE_DIR"])
config = base / "input" / "config"
hps = json.loads((config / "hyperparameters.json").read_text())
data_config = json.loads((config / "inputdataconfig.json").read_text())
resource = json.loads((config / "resourceconfig.json").read_text())
model_dir, output_data = base / "model", base / "output" / "data"
stop = {"requested": False}


def on_sigterm(signum, frame):
    stop["requested"] = True


if hps.get("on_sigterm", "save") == "save":
    signal.signal(signal.SIGTERM, on_sigterm)
else:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

seen = {"env": {k: os.environ.get(k) for k in ("SAGEMAKER_ALGORITHM", "TRAINING_JOB_NAME", "TRAINING_JOB_ARN",
                                              "SMLOCAL_HOST_ADDRESSES", "USER_VAR")},
        "host": resource["current_host"], "channels": {}, "pipes": {}, "checkpoints_at_start": []}
for name, channel in data_config.items():
    if channel["TrainingInputMode"] == "Pipe":
        epochs = []
        for epoch in range(int(hps.get("pipe_epochs", "1"))):
            path = base / "input" / "data" / f"{name}_{epoch}"
            for _ in range(200):
                if path.exists():
                    break
                time.sleep(0.05)
            with open(path, "rb") as fifo:
                epochs.append(hashlib.sha256(fifo.read()).hexdigest())
        seen["pipes"][name] = epochs
    else:
        folder = base / "input" / "data" / name
        files = {}
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                files[path.relative_to(folder).as_posix()] = {
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "writable": os.access(path, os.W_OK) and not (path.stat().st_mode & 0o222) == 0}
        seen["channels"][name] = files

checkpoint_dir = None
if (config / "checkpointconfig.json").exists():
    checkpoint_dir = Path(json.loads((config / "checkpointconfig.json").read_text())["LocalPath"])
    seen["checkpoints_at_start"] = sorted(p.name for p in checkpoint_dir.glob("*"))

for line in json.loads(hps.get("lines", "[]")):
    print(line, flush=True)

model_dir.mkdir(parents=True, exist_ok=True)
output_data.mkdir(parents=True, exist_ok=True)
(model_dir / f"model-{resource['current_host']}.txt").write_text(json.dumps(hps))
(output_data / f"seen-{resource['current_host']}.json").write_text(json.dumps(seen))

failing_host = hps.get("fail_on_host")
if failing_host and failing_host != resource["current_host"]:
    hps.pop("failure", None)
    hps.pop("exit_code", None)
elif failing_host:
    hps["sleep"] = "0"

deadline = time.monotonic() + float(hps.get("sleep", "0"))
written = 0
while time.monotonic() < deadline and not stop["requested"]:
    if checkpoint_dir is not None and written < int(hps.get("checkpoints", "0")):
        (checkpoint_dir / f"ckpt-{written}.txt").write_text(f"checkpoint {written}")
        written += 1
        time.sleep(0.2)
    time.sleep(0.05)
if checkpoint_dir is not None:
    while written < int(hps.get("checkpoints", "0")):
        (checkpoint_dir / f"ckpt-{written}.txt").write_text(f"checkpoint {written}")
        written += 1

if stop["requested"]:
    print("Received SIGTERM, saving model", flush=True)
    (model_dir / "stopped.txt").write_text("saved on SIGTERM")
    sys.exit(0)

if "failure" in hps:
    (base / "output" / "failure").write_text(hps["failure"])
code = int(hps.get("exit_code", "0"))
print(f"fake algorithm done, exit code {code}", flush=True)
sys.exit(code)

"""A stand-in algorithm for tuning tests: its validation accuracy is a known function of `x`.

Hyperparameters: x (the tuned value; the best is 0.3), epochs, seconds_per_epoch, fail_above
(exit 1 when x is above it). Each epoch prints the built-in's metric line, so the image
classification metric definitions capture `validation:accuracy` epoch by epoch; an epoch's
value grows towards 1 - (x - 0.3)^2. SIGTERM ends it after the current epoch, as the
built-ins do.
"""
import json
import os
import signal
import sys
import time
from pathlib import Path

base = Path(os.environ["SAGEMAKER_BASE_DIR"])
hps = json.loads((base / "input" / "config" / "hyperparameters.json").read_text())
x = float(hps.get("x", "0"))
epochs = int(hps.get("epochs", "3"))
pause = float(hps.get("seconds_per_epoch", "0.2"))
stop = {"requested": False}
signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))

if x > float(hps.get("fail_above", "inf")):
    (base / "output" / "failure").write_text(f"ClientError: x={x} is too large")
    sys.exit(1)
for epoch in range(epochs):
    time.sleep(pause)
    print(f"Epoch[{epoch}] Validation-accuracy={(1 - (x - 0.3) ** 2) * (epoch + 1) / epochs:.6f}", flush=True)
    if stop["requested"]:
        break
(base / "model" / "model.txt").write_text(str(x))

"""The SageMaker Python SDKs in their own virtual environments: v2 in `.venv-sdk` (constraints-sdk.txt),
v3 in `.venv-sdk3` (constraints-sdk3.txt), and the public notebooks' kernel, v2 with Pillow and
matplotlib, in `.venv-notebooks` (constraints-notebooks.txt).

The SDKs need numpy >= 1.26.4, which MXNet 1.9.1 cannot use, so they never share the training
venv; v3 drops v2's API entirely, so the two majors cannot share one either. Tests run small
client scripts with the venv's python in subprocesses. Each venv is built once and rebuilt when
its constraints file changes (a stamp holds its hash); a file lock keeps two test runs in the
same checkout from building it at the same time.

    python -m tests.sdk_venv          # build all three now (what `make sdk-venv` runs)
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-sdk"
CONSTRAINTS = REPO / "constraints-sdk.txt"
VENV3 = REPO / ".venv-sdk3"
CONSTRAINTS3 = REPO / "constraints-sdk3.txt"
# The public notebooks' kernel (tests/functional/notebooks): SDK v2 and what the notebooks import besides it.
NOTEBOOKS_VENV = REPO / ".venv-notebooks"
NOTEBOOKS_CONSTRAINTS = REPO / "constraints-notebooks.txt"
NOTEBOOKS_PACKAGES = ("sagemaker", "pillow", "matplotlib")


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_sdk_venv(venv: Path = VENV, constraints: Path = CONSTRAINTS,
                    packages: tuple[str, ...] = ("sagemaker",)) -> Path:
    """Build (or reuse) an SDK venv (v2's by default; `ensure_sdk_venv(VENV3, CONSTRAINTS3)` for v3);
    returns its python. `packages` are installed under the constraints (every pin of them is in the
    file, so its hash stands for them too). Raises CalledProcessError if pip fails."""
    wanted = hashlib.sha256(constraints.read_bytes()).hexdigest()
    stamp = venv / ".constraints-sha256"
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text().strip() == wanted and _python(venv).exists():
            return _python(venv)
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(_python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-c", str(constraints), *packages], check=True)
        stamp.write_text(wanted + "\n")
    return _python(venv)


# The SDK's own config file, opting out of its telemetry (tests write it and point the SDK at it).
TELEMETRY_OPT_OUT = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def sdk_client_env(api_endpoint: str, s3_endpoint: str, folder: Path) -> dict[str, str]:
    """The environment an SDK client script runs in: sagemaker, logs and cloudwatch at `api_endpoint`,
    S3 at `s3_endpoint` (the specific variable wins), test credentials, telemetry off (a config
    file written into `folder`)."""
    config = folder / "sagemaker-config.yaml"
    config.write_text(TELEMETRY_OPT_OUT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": api_endpoint, "AWS_ENDPOINT_URL_S3": s3_endpoint,
                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "SAGEMAKER_SUPPRESS_V2_WARNING": "1"})
    return env


if __name__ == "__main__":
    print(ensure_sdk_venv())
    print(ensure_sdk_venv(VENV3, CONSTRAINTS3))
    print(ensure_sdk_venv(NOTEBOOKS_VENV, NOTEBOOKS_CONSTRAINTS, NOTEBOOKS_PACKAGES))

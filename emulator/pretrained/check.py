"""The name/shape check of a weights file needs the networks, hence MXNet, which the emulator
never imports: it runs `python -m algorithms.common.pretrained_check` as a subprocess, with this
Python (the project's environment, which has the training stack) or inside a training image
(`--image`, no network, the files mounted read-only), and reads the verdict it writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from emulator.pretrained import PretrainedError

CHECK_MODULE = "algorithms.common.pretrained_check"
VERDICT = "verdict.json"  # what pretrained_check writes into its --output directory
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def check_command(files: list[Path], name: str | None, output: Path, image: str | None) -> list[str]:
    named = ["--name", name] if name else []
    if image is None:
        return [sys.executable, "-m", CHECK_MODULE, "--output", str(output), *named, *map(str, files)]
    mounts, inside = [], []
    for index, path in enumerate(files):
        inside.append(f"/in/{index}/{path.name}")
        mounts += ["-v", f"{path.resolve()}:{inside[-1]}:ro"]
    return ["docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
            "--entrypoint", "python", *mounts, "-v", f"{output.resolve()}:/out", image,
            "-m", CHECK_MODULE, "--output", "/out", *named, *inside]


def run_check(files: list[Path], name: str | None, output: Path, image: str | None = None) -> dict:
    """The verdict: {"ok": true, "name", "file", "converted", "weights"} or {"ok": false, "error"}."""
    command = check_command(files, name, output, image)
    env = dict(os.environ)
    if image is None:  # `python -m algorithms...` resolves even when the project is not pip-installed
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise PretrainedError(f"Cannot run {command[0]} for the weights check") from None
    verdict = output / VERDICT
    if verdict.is_file():
        return json.loads(verdict.read_text())
    if image is not None and f"No module named {CHECK_MODULE}" in done.stderr:
        raise PretrainedError(f"The image {image} predates `smlocal pretrained`: rebuild it (make build)")
    if "No module named 'mxnet'" in done.stderr:
        raise PretrainedError(f"The weights check needs the training stack (MXNet), which {sys.executable} lacks: "
                              f"run smlocal from the project's environment, or pass --image smlocal/<algorithm>:latest")
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    raise PretrainedError(f"The weights check ({' '.join(command[:3])} ...) failed with exit code "
                          f"{done.returncode}: {tail}")

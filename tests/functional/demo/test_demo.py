"""`make demo` (python -m emulator.demo), the README's first command: train, warm-start a second
job from the first one's model.tar.gz, then serve the retrained model and predict."""
import re
import subprocess
import sys

import pytest

from tests.jobtree import REPO


@pytest.mark.slow
def test_the_demo_trains_warm_starts_serves_and_predicts(tmp_path):
    run = subprocess.run([sys.executable, "-m", "emulator.demo"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=1200, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "Incremental training: initialising from" in out
    assert "Incremental job 2 warm-started from job 1" in out
    correct, asked = map(int, re.search(r"The endpoint classified (\d+) of (\d+) validation images", out).groups())
    assert asked == 10 and correct >= 7, out[-2000:]
    assert list((tmp_path / "demo-output" / "output").glob("demo-ic-incremental-*/output/model.tar.gz"))

"""`smlocal` as a user runs it: a subprocess, with the fake algorithm as the process runner's command."""
import json
import os
import shlex
import signal
import subprocess
import sys


def smlocal(args, fake_command, tmp_path, **kwargs):
    env = {**os.environ, "SMLOCAL_PROCESS_COMMAND": shlex.join(fake_command), "SMLOCAL_HOME": str(tmp_path / "home")}
    return subprocess.Popen([sys.executable, "-m", "emulator.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def test_train_prints_transitions_metrics_and_artifacts(fake_command, train_data, tmp_path):
    proc = smlocal(["train", "--algorithm", "image-classification", "--job-name", "cli-job",
                    "--channel", f"train={train_data}", "--hp", 'lines=["Epoch[0] Validation-accuracy=0.625"]'],
                   fake_command, tmp_path)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    for expected in ("Starting - Preparing the instances for training", "Downloading - Downloading input data",
                     "Training - Training image download completed. Training in progress.",
                     "Uploading - Uploading generated training model", "Completed - Training job completed",
                     "Epoch[0] Validation-accuracy=0.625", "Metric validation:accuracy = 0.625",
                     f"Model artifacts: {tmp_path}/home/output/cli-job/output/model.tar.gz"):
        assert expected in out
    described = subprocess.run([sys.executable, "-m", "emulator.cli", "--home", str(tmp_path / "home"),
                                "describe", "cli-job"], capture_output=True, text=True, check=True)
    state = json.loads(described.stdout)
    assert state["TrainingJobStatus"] == "Completed" and state["HyperParameters"]["lines"]
    stop = subprocess.run([sys.executable, "-m", "emulator.cli", "--home", str(tmp_path / "home"), "stop", "cli-job"],
                          capture_output=True, text=True)
    assert stop.returncode == 2 and "training job is in status Completed" in stop.stderr


def test_failed_job_exits_non_zero_with_the_failure_reason(fake_command, train_data, tmp_path):
    proc = smlocal(["train", "--algorithm", "image-classification", "--channel", f"train={train_data}",
                    "--hp", "failure=ClientError: bad value for 'epochs'", "--hp", "exit_code=2"],
                   fake_command, tmp_path)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "FailureReason: ClientError: bad value for 'epochs'" in out
    assert "Model artifacts:" in out


def test_ctrl_c_stops_the_job_gracefully(fake_command, train_data, tmp_path):
    proc = smlocal(["train", "--algorithm", "image-classification", "--channel", f"train={train_data}",
                    "--hp", "sleep=60", "--hp", 'lines=["ready"]', "--stop-grace", "10"], fake_command, tmp_path)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == "ready":  # the algorithm's SIGTERM handler is in place
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    out = "".join(lines) + out
    assert proc.returncode == 0, out
    assert "Stopping - Stopping the training job" in out and "Stopped - Training job stopped" in out
    assert "Received SIGTERM, saving model" in out


def test_stop_list_and_delete_from_another_terminal(fake_command, train_data, tmp_path):
    home = str(tmp_path / "home")
    proc = smlocal(["train", "--algorithm", "image-classification", "--job-name", "to-stop",
                    "--channel", f"train={train_data}", "--hp", "sleep=60", "--hp", 'lines=["ready"]',
                    "--stop-grace", "10"], fake_command, tmp_path)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == "ready":
            break
    cli = [sys.executable, "-m", "emulator.cli", "--home", home]
    listed = subprocess.run([*cli, "list"], capture_output=True, text=True, check=True).stdout
    assert "InProgress" in listed and "to-stop" in listed
    busy = subprocess.run([*cli, "delete", "to-stop"], capture_output=True, text=True)
    assert busy.returncode == 2 and "stop it first" in busy.stderr
    subprocess.run([*cli, "stop", "to-stop"], check=True, capture_output=True)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Training job to-stop: Stopped (Stopped)" in out
    listed = subprocess.run([*cli, "list"], capture_output=True, text=True, check=True).stdout
    assert "Stopped" in listed
    subprocess.run([*cli, "delete", "to-stop"], check=True, capture_output=True)
    assert not (tmp_path / "home" / "jobs" / "to-stop").exists()
    assert (tmp_path / "home" / "output" / "to-stop" / "output" / "model.tar.gz").exists()

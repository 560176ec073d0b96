"""Incremental training: warm start from own and built-in artifacts, mismatches, stop/resume, checkpoints."""
import json
import shutil
import signal
import tarfile
import time
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

from algorithms.image_classification import model_io
from emulator.sample_data import make_classification_set
from tests.functional.image_classification.conftest import base_hp, rec_channels, tar_model
from tests.jobtree import make_tree, start_subprocess
from tests.reference import REFERENCE_ARTIFACTS

REFERENCE = REFERENCE_ARTIFACTS
REPO_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _params(model_dir):
    latest = max(model_io.params_files(model_dir).items())[1]
    return model_io.load_params(latest)


def _close(a: dict, b: dict, names, atol=1e-4):
    return all(np.allclose(a[n].asnumpy(), b[n].asnumpy(), atol=atol) for n in names)


def test_warm_start_continues_from_the_earlier_model(run_ic, ic_data, tmp_path, caplog):
    code, first = run_ic(base_hp(epochs=1), rec_channels(ic_data))
    assert code == 0, first.failure
    tarball = tar_model(first.model, tmp_path / "model.tar.gz")
    # A learning rate this small leaves the weights where the first job left them, so equality
    # with job 1 (and inequality with a fresh start) shows the weights really came from the channel.
    code, second = run_ic(base_hp(epochs=1, learning_rate=1e-9, momentum=0), rec_channels(ic_data, tarball))
    assert code == 0, second.failure
    assert any("Incremental training: initialising from" in r.getMessage() for r in caplog.records)
    (arg1, _), (arg2, _) = _params(first.model), _params(second.model)
    convs = [n for n in arg1 if "conv" in n]
    assert _close(arg1, arg2, convs)
    code, fresh = run_ic(base_hp(epochs=1, learning_rate=1e-9, momentum=0), rec_channels(ic_data))
    assert not _close(arg1, _params(fresh.model)[0], convs)


def test_use_pretrained_model_is_ignored_with_a_model_channel(run_ic, ic_data, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(tmp_path / "empty-store"))
    code, first = run_ic(base_hp(), rec_channels(ic_data))
    tarball = tar_model(first.model, tmp_path / "model.tar.gz")
    code, second = run_ic(base_hp(use_pretrained_model=1), rec_channels(ic_data, tarball))
    assert code == 0, second.failure
    assert any("use_pretrained_model is ignored" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("key,value,original", [
    ("num_layers", 34, "18"), ("num_classes", 5, "4"), ("image_shape", "3,30,30", "3,28,28"),
])
def test_mismatched_architecture_is_a_client_error(run_ic, ic_data, tmp_path, key, value, original):
    code, first = run_ic(base_hp(), rec_channels(ic_data))
    tarball = tar_model(first.model, tmp_path / "model.tar.gz")
    code, second = run_ic(base_hp(**{key: value}), rec_channels(ic_data, tarball))
    assert code != 0
    assert second.failure.startswith("ClientError: Incompatible model")
    assert f"'{key}'" in second.failure and original in second.failure and str(value) in second.failure
    assert not list(second.model.glob("*.params"))


def _builtin_model(tmp_path) -> Path:
    """The real built-in's ResNet-50 graph + model-shapes.json, with params generated to its shapes."""
    model = tmp_path / "builtin-model"
    model.mkdir()
    shutil.copy(REFERENCE / "ic-resnet50-builtin-symbol.json", model / "image-classification-symbol.json")
    shutil.copy(REFERENCE / "ic-resnet50-builtin-model-shapes.json", model / "model-shapes.json")
    symbol = mx.sym.load(str(model / "image-classification-symbol.json"))
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 224, 224))
    rng = np.random.RandomState(7)
    arg = {n: mx.nd.array(rng.normal(0, 0.05, s)) for n, s in zip(symbol.list_arguments(), arg_shapes)
           if n not in ("data", "softmax_label")}
    aux = {n: mx.nd.array(np.abs(rng.normal(1, 0.1, s))) for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)}
    model_io.save_params(model / "image-classification-0017.params", arg, aux)
    return tar_model(model, tmp_path / "builtin-model.tar.gz")


@pytest.mark.slow
def test_warm_start_from_the_builtin_algorithms_artifact(run_ic, tmp_path):
    data = {"train": make_classification_set(tmp_path / "t", 2, 2, size=(224, 224), seed=3),
            "validation": make_classification_set(tmp_path / "v", 2, 1, size=(224, 224), seed=4)}
    tarball = _builtin_model(tmp_path)
    hp = base_hp(num_layers=50, num_classes=2, image_shape="3,224,224", mini_batch_size=2,
                 num_training_samples=4, learning_rate=1e-9, momentum=0)
    code, tree = run_ic(hp, rec_channels(data, tarball))
    assert code == 0, tree.failure
    builtin_arg, _ = model_io.load_params(next((tmp_path / "builtin-model").glob("*.params")))
    ours, _ = _params(tree.model)
    assert set(ours) == set(builtin_arg)
    # bn_data has fix_gamma=True in the built-in's graph: MXNet pins that gamma to 1.
    assert _close(builtin_arg, ours, [n for n in builtin_arg if n != "bn_data_gamma"])


def test_builtin_artifact_with_other_depth_is_rejected_before_training(run_ic, ic_data, tmp_path):
    tarball = _builtin_model(tmp_path)
    code, tree = run_ic(base_hp(num_layers=18, num_classes=2), rec_channels(ic_data, tarball))
    assert code != 0
    assert "'num_layers' is '18' in this job but the model was trained with '50'" in tree.failure


def test_sigterm_saves_a_model_a_new_job_resumes_from(ic_data, tmp_path, run_ic):
    tree = make_tree(tmp_path / "stopped", base_hp(epochs=200, mini_batch_size=8),
                     rec_channels(ic_data), checkpoint=tmp_path / "ckpt")
    proc = start_subprocess(tree, "image-classification")
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Epoch[1] Train-accuracy" in line:
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            break
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, "".join(lines) + rest
    assert time.monotonic() - sent < 60
    assert "Received SIGTERM" in rest
    assert model_io.params_files(tree.model)
    state = json.loads((tmp_path / "ckpt" / "checkpoint-state.json").read_text())
    assert 1 <= state["epochs_completed"] < 200
    # A new job warm-starts from what the stopped job left in /opt/ml/model.
    tarball = tar_model(tree.model, tmp_path / "stopped-model.tar.gz")
    code, resumed = run_ic(base_hp(), rec_channels(ic_data, tarball))
    assert code == 0, resumed.failure


def test_checkpoints_resume_and_continue_the_epoch_count(run_ic, ic_data, tmp_path, caplog):
    ckpt = tmp_path / "checkpoints"
    code, first = run_ic(base_hp(epochs=2), rec_channels(ic_data), checkpoint=ckpt)
    assert code == 0, first.failure
    assert json.loads((ckpt / "checkpoint-state.json").read_text())["epochs_completed"] == 2
    assert (ckpt / "trainer.states").exists()
    caplog.clear()
    code, second = run_ic(base_hp(epochs=3), rec_channels(ic_data), checkpoint=ckpt)
    assert code == 0, second.failure
    trained = [r.getMessage().split("]")[0] + "]" for r in caplog.records if "Train-accuracy=" in r.getMessage()]
    assert trained == ["Epoch[2]"]
    assert any("2 epoch(s) already completed" in r.getMessage() for r in caplog.records)
    assert model_io.params_files(second.model)


def test_pretrained_weights_come_from_the_local_model_store(run_ic, ic_data, tmp_path, monkeypatch):
    # Write "ImageNet" weights for ResNet-18 (1000 classes) into a store the job is pointed at.
    from algorithms.image_classification.network import classifier

    symbol = classifier(18, 1000)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 224, 224))
    rng = np.random.RandomState(11)
    arg = {n: mx.nd.array(rng.normal(0, 0.05, s)) for n, s in zip(symbol.list_arguments(), arg_shapes)
           if n not in ("data", "softmax_label")}
    aux = {n: mx.nd.array(np.abs(rng.normal(1, 0.1, s))) for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)}
    store = tmp_path / "store"
    (store / "image-classification").mkdir(parents=True)
    model_io.save_params(store / "image-classification" / "resnet-18-0000.params", arg, aux)
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(store))
    code, tree = run_ic(base_hp(use_pretrained_model=1, learning_rate=1e-9, momentum=0), rec_channels(ic_data))
    assert code == 0, tree.failure
    ours, _ = _params(tree.model)
    body = [n for n in arg if not n.startswith("fc") and n != "bn_data_gamma"]  # fix_gamma pins it to 1
    assert _close(arg, ours, body)
    assert ours["fc_weight"].shape == (4, 512)  # the top layer was re-initialised for 4 classes


def test_pretrained_weights_missing_is_a_client_error(run_ic, ic_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(tmp_path / "nothing-here"))
    code, tree = run_ic(base_hp(use_pretrained_model=1), rec_channels(ic_data))
    assert code != 0
    assert "resnet-18-0000.params" in tree.failure and "SMLOCAL_MODEL_STORE" in tree.failure


@pytest.mark.parametrize("member", ["../escape.txt", "/abs.txt", "link"])
def test_unsafe_model_tarball_is_rejected(run_ic, ic_data, tmp_path, member):
    tarball = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload.txt"
    payload.write_text("x")
    with tarfile.open(tarball, "w:gz") as tar:
        if member == "link":
            info = tarfile.TarInfo("link")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info = tarfile.TarInfo(member)  # built by hand: gettarinfo would strip a leading "/"
            info.size = payload.stat().st_size
            with open(payload, "rb") as handle:
                tar.addfile(info, handle)
    code, tree = run_ic(base_hp(), rec_channels(ic_data, tarball))
    assert code != 0
    assert tree.failure.startswith("ClientError: Unsafe archive evil.tar.gz")
    assert not (tmp_path / "escape.txt").exists()

"""Tiny image-classification jobs through the container entry: inputs, artifacts, loading."""
import json

import cv2
import mxnet as mx
import numpy as np
import pytest

from algorithms.image_classification.preprocess import Preprocessing
from tests.functional.image_classification.conftest import NUM_CLASSES, base_hp, rec_channels


def test_recordio_job_writes_builtin_artifacts(run_ic, ic_data):
    code, tree = run_ic(base_hp(top_k=2), rec_channels(ic_data))
    assert code == 0, tree.failure
    names = sorted(p.name for p in tree.model.iterdir())
    assert names == ["image-classification-0001.params", "image-classification-symbol.json", "model-shapes.json"]
    assert json.loads((tree.model / "model-shapes.json").read_text()) == [{"shape": [16, 3, 28, 28], "name": "data"}]


def test_artifacts_load_with_module_api_and_match_validation(run_ic, ic_data, caplog):
    code, tree = run_ic(base_hp(epochs=2), rec_channels(ic_data))
    assert code == 0, tree.failure
    epoch = int(sorted(tree.model.glob("*.params"))[-1].stem.rsplit("-", 1)[1])
    prefix = str(tree.model / "image-classification")
    module = mx.mod.Module.load(prefix, epoch)
    module.bind(data_shapes=[("data", (1, 3, 28, 28))], for_training=False)
    pre = Preprocessing((3, 28, 28))
    # Users' inference code: decode the image, apply the documented preprocessing, forward.
    lines = [line.split("\t") for line in ic_data["validation"]["lst"].read_text().split("\n") if line]
    correct = 0
    for _, label, rel in lines:
        image = cv2.cvtColor(cv2.imread(str(ic_data["validation"]["images"] / rel)), cv2.COLOR_BGR2RGB)
        module.forward(mx.io.DataBatch([mx.nd.array(pre.to_input(image))]), is_train=False)
        probs = module.get_outputs()[0].asnumpy()[0]
        assert probs.shape == (NUM_CLASSES,)
        assert abs(probs.sum() - 1) < 1e-4
        correct += int(np.argmax(probs) == int(float(label)))
    # The accuracy the job logged for its best (saved) epoch is what inference reproduces.
    log = (tree.base / "output").parent  # noqa: F841 - the job log is captured by caplog below
    best = max(float(r.getMessage().split("=")[1]) for r in caplog.records
               if "Validation-accuracy=" in r.getMessage())
    assert correct / len(lines) == pytest.approx(best, abs=1e-6)


def test_lst_and_images_input_is_packed_once(run_ic, ic_data, caplog):
    channels = {
        "train": {"files": [ic_data["train"]["images"]], "content_type": "application/x-image"},
        "validation": {"files": [ic_data["validation"]["images"]], "content_type": "application/x-image"},
        "train_lst": {"files": [ic_data["train"]["lst"]], "content_type": "application/x-image"},
        "validation_lst": {"files": [ic_data["validation"]["lst"]], "content_type": "application/x-image"},
    }
    # The .lst paths are relative to the channel root: images were copied under images/.
    for name in ("train_lst", "validation_lst"):
        channels[name]["rename"] = {}
    code, tree = run_ic(base_hp(resize=32), _prefix_lst(channels, ic_data, "images/"))
    assert code == 0, tree.failure
    messages = [r.getMessage() for r in caplog.records]
    assert "Creating record files for train.lst" in messages
    assert "Done creating record files..." in messages
    assert any(p.name.endswith(".params") for p in tree.model.iterdir())


def _prefix_lst(channels, data, prefix):
    """Write .lst copies whose paths point into the copied images/ folder."""
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    for name, key in (("train_lst", "train"), ("validation_lst", "validation")):
        rows = [line.split("\t") for line in data[key]["lst"].read_text().splitlines() if line]
        target = tmp / name / f"{key}.lst"
        target.parent.mkdir()
        target.write_text("".join(f"{i}\t{label}\t{prefix}{rel}\n" for i, label, rel in rows))
        channels[name]["files"] = [target]
    return channels


def test_multi_label_lst(run_ic, ic_data, tmp_path, caplog):
    rows = [line.split("\t") for line in ic_data["train"]["lst"].read_text().splitlines() if line]
    vrows = [line.split("\t") for line in ic_data["validation"]["lst"].read_text().splitlines() if line]

    def multi_hot(rows, name):
        path = tmp_path / name / f"{name}.lst"
        path.parent.mkdir()
        lines = []
        for i, label, rel in rows:
            hot = ["0"] * NUM_CLASSES
            hot[int(label)] = "1"
            hot[(int(label) + 1) % NUM_CLASSES] = "1"  # two labels per image
            lines.append("\t".join([i, *hot, "images/" + rel]))
        path.write_text("\n".join(lines) + "\n")
        return path

    channels = {
        "train": {"files": [ic_data["train"]["images"]], "content_type": "application/x-image"},
        "validation": {"files": [ic_data["validation"]["images"]], "content_type": "application/x-image"},
        "train_lst": {"files": [multi_hot(rows, "train_lst")]},
        "validation_lst": {"files": [multi_hot(vrows, "validation_lst")]},
    }
    code, tree = run_ic(base_hp(multi_label=1, use_weighted_loss=1, resize=32), channels)
    assert code == 0, tree.failure
    prefix = str(tree.model / "image-classification")
    module = mx.mod.Module.load(prefix, 1, label_names=None)
    module.bind(data_shapes=[("data", (2, 3, 28, 28))], for_training=False)
    module.forward(mx.io.DataBatch([mx.nd.random.uniform(0, 255, (2, 3, 28, 28))]), is_train=False)
    probs = module.get_outputs()[0].asnumpy()
    assert probs.shape == (2, NUM_CLASSES)
    assert ((probs >= 0) & (probs <= 1)).all()
    assert any("Validation-accuracy=" in r.getMessage() for r in caplog.records)


def test_several_cpu_contexts_train_one_model(run_ic, ic_data, monkeypatch, caplog):
    monkeypatch.setenv("SMLOCAL_CPU_CONTEXTS", "2")
    code, tree = run_ic(base_hp(), rec_channels(ic_data))
    assert code == 0, tree.failure
    assert any("Training on [cpu(0), cpu(1)]" in r.getMessage() for r in caplog.records)
    assert (tree.model / "image-classification-0001.params").exists()


def test_checkpoint_frequency_keeps_every_kth_epoch(run_ic, ic_data):
    code, tree = run_ic(base_hp(epochs=2, checkpoint_frequency=1), rec_channels(ic_data))
    assert code == 0, tree.failure
    assert sorted(p.name for p in tree.model.glob("*.params")) == [
        "image-classification-0001.params", "image-classification-0002.params"]


def test_early_stopping_stops_when_accuracy_stalls(run_ic, ic_data, caplog):
    hp = base_hp(epochs=6, early_stopping="True", early_stopping_min_epochs=1, early_stopping_patience=1,
                 early_stopping_tolerance=1.0, learning_rate=1e-7)
    code, tree = run_ic(hp, rec_channels(ic_data))
    assert code == 0, tree.failure
    epochs_run = {r.getMessage().split("]")[0] for r in caplog.records if "Train-accuracy=" in r.getMessage()}
    assert epochs_run == {"Epoch[0", "Epoch[1"}
    assert any("Early stopping" in r.getMessage() for r in caplog.records)


def test_float16_on_cpu_falls_back_with_log(run_ic, ic_data, caplog):
    code, tree = run_ic(base_hp(precision_dtype="float16"), rec_channels(ic_data))
    assert code == 0, tree.failure
    assert any("float16 needs a GPU" in r.getMessage() for r in caplog.records)

"""A real training job: artifacts, hyperparams.json, metric log lines, the exported graph."""
import json
import re

import mxnet as mx
import numpy as np
from PIL import Image

from algorithms.object_detection.hyperparameters import SCHEMA
from algorithms.object_detection.preprocess import to_network_input
from tests.epoch_log import assert_epoch_samples
from tests.functional.object_detection.conftest import TRAIN_IMAGES, base_hp

# The built-in's metric definitions (sagemaker-algorithms.md §2.5).
BUILTIN_REGEXES = {
    "train:progress": r"#progress_metric: host=\S+, completed (\S+) %",
    "train:smooth_l1": r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train smooth_l1 <loss>=(\S+)",
    "train:cross_entropy": r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train cross_entropy <loss>=(\S+)",
    "train:throughput": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
    "validation:mAP": r"#quality_metric: host=\S+, epoch=\S+, validation mAP <score>=\((\S+)\)",
}


def test_job_succeeds_with_the_builtins_artifacts(trained_job):
    code, tree, log = trained_job
    assert code == 0, log[-3000:]
    assert tree.failure is None and (tree.base / "output" / "success").exists()
    assert sorted(p.name for p in tree.model.iterdir()) == [
        "hyperparams.json", "model_algo_1-0000.params", "model_algo_1-symbol.json"]
    assert "Creating record files for train_annotation" in log  # the JSON channel went through packing


def test_hyperparams_json_holds_every_resolved_value_as_a_string(trained_job):
    _, tree, _ = trained_job
    saved = json.loads((tree.model / "hyperparams.json").read_text())
    expected = SCHEMA.parse({k: str(v) for k, v in base_hp().items()}).as_strings()
    assert saved == expected
    assert {"nms_topk", "_kvstore", "_num_kv_servers", "_tuning_objective_metric"} <= set(saved)
    assert all(isinstance(v, str) for v in saved.values())


def test_log_gives_every_builtin_metric_a_number(trained_job):
    _, _, log = trained_job
    values = {name: re.findall(regex, log) for name, regex in BUILTIN_REGEXES.items()}
    assert all(values.values()), {k: v for k, v in values.items() if not v}
    numbers = {name: [float(v) for v in found] for name, found in values.items()}
    assert numbers["train:progress"][-1] == 100.0
    assert len(numbers["validation:mAP"]) == 1 and 0.0 <= numbers["validation:mAP"][0] <= 1.0
    assert numbers["train:throughput"][0] > 0 and numbers["train:cross_entropy"][0] > 0
    assert 'Saved checkpoint to "' in log and "model_algo_1-0000.params" in log


def test_the_epoch_counts_every_training_image_once(trained_job):
    _, _, log = trained_job
    assert_epoch_samples(log, TRAIN_IMAGES, [0])
    assert "(3 batches of this host" in log


def _validation_image(od_data):
    path = sorted(od_data["validation"]["images"].iterdir())[0]
    return to_network_input(np.asarray(Image.open(path).convert("RGB")), 300)


def test_exported_graph_loads_as_symbolblock_and_module_and_returns_detections(trained_job, od_data, monkeypatch):
    _, tree, _ = trained_job
    # Module's executor would fuse operators (MKLDNN subgraphs), changing the last digits of the
    # scores and so the order of near-equal ones; without fusion both paths compute the same.
    monkeypatch.setenv("MXNET_SUBGRAPH_BACKEND", "NONE")
    symbol_file, params_file = str(tree.model / "model_algo_1-symbol.json"), str(tree.model / "model_algo_1-0000.params")
    symbol = mx.sym.load(symbol_file)
    _, arg_params, aux_params = mx.model.load_checkpoint(str(tree.model / "model_algo_1"), 0)
    inputs = [name for name in symbol.list_inputs() if name not in arg_params and name not in aux_params]
    assert inputs == ["data"]  # no label input, no loss layers: usable as exported

    image = mx.nd.array(_validation_image(od_data))
    block = mx.gluon.SymbolBlock.imports(symbol_file, ["data"], params_file)
    from_block = block(image).asnumpy()

    module = mx.mod.Module(symbol, data_names=["data"], label_names=None, context=mx.cpu())
    module.bind(data_shapes=[("data", (1, 3, 300, 300))], for_training=False)
    module.set_params(arg_params, aux_params)
    module.forward(mx.io.DataBatch([image]), is_train=False)
    from_module = module.get_outputs()[0].asnumpy()

    assert from_block.shape == from_module.shape == (1, 400, 6)
    assert np.array_equal(from_block, from_module)
    valid = from_block[0][from_block[0, :, 0] >= 0]
    assert len(valid) and set(np.unique(valid[:, 0])) <= {0.0, 1.0}
    assert valid[:, 2:].min() >= 0 and valid[:, 2:].max() <= 1 and valid[:, 1].max() <= 1

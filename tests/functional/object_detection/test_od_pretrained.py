"""use_pretrained_model=1 takes the base network from the local model store, filled by
`smlocal pretrained pull`; freeze_layer_pattern keeps matching base parameters fixed while the rest trains."""
import mxnet as mx
import numpy as np

from algorithms.object_detection import network
from tests.functional.object_detection.conftest import base_hp, rec_channels
from tests.functional.pretrained.fill import pull_into


def _store_weights(store, zoo_files):
    """A stand-in for GluonCV's ImageNet resnet50_v1 file (same format and names, seeded values),
    published on a loopback zoo and pulled into the store."""
    mx.random.seed(7)
    base = network.base_network_block("resnet-50", 300)
    base.initialize(mx.init.Normal(0.05))
    base(mx.nd.zeros((1, 3, 64, 64)))
    path = zoo_files / "resnet50_v1-cc729d95.params"  # the name GluonCV gives the file it publishes
    path.parent.mkdir(parents=True)
    base.save_parameters(str(path))
    pull_into(store, "resnet50_v1", path)
    return {name: p.data().asnumpy() for name, p in base.collect_params().items()}


def test_pretrained_base_is_loaded_and_frozen_layers_keep_it(run_od, od_data, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(tmp_path / "store"))
    stored = _store_weights(tmp_path / "store", tmp_path / "zoo-files")
    hp = base_hp(use_pretrained_model=1, freeze_layer_pattern=r"resnet50_v1_(conv0|stage1|stage2)_", learning_rate=0.01)
    code, tree = run_od(hp, rec_channels(od_data))
    assert code == 0, tree.failure
    assert any("Loaded ImageNet-pretrained resnet-50 base network weights" in r.getMessage() for r in caplog.records)
    saved = {k.split(":", 1)[1]: v.asnumpy() for k, v in mx.nd.load(str(tree.model / "model_algo_1-0000.params")).items()}
    learned = [n for n in stored if not n.endswith(("running_mean", "running_var")) and not n.startswith("resnet50_v1_dense")]
    frozen = [n for n in learned if n.startswith(("resnet50_v1_conv0", "resnet50_v1_stage1", "resnet50_v1_stage2"))]
    trained = [n for n in learned if n.startswith("resnet50_v1_stage4_conv") and n.endswith("_weight")]
    assert frozen and trained
    assert all(np.array_equal(saved[n], stored[n]) for n in frozen)
    # Unfrozen base layers started from the store too and moved only by the training steps.
    assert all(not np.array_equal(saved[n], stored[n]) for n in trained)
    change = [np.linalg.norm(saved[n] - stored[n]) / np.linalg.norm(stored[n]) for n in trained]
    assert max(change) < 0.5

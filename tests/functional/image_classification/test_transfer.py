"""warm_start_mode=transfer: a model for 4 classes seeds a job for 3 (new fc, every other layer loaded)."""
import logging

import mxnet as mx
import numpy as np
import pytest

from algorithms.image_classification import model_io
from algorithms.image_classification.hyperparameters import SCHEMA
from algorithms.image_classification.train import ClassificationJob
from container.config import TrainingEnv
from container.contract import MLPaths
from container.stop import StopSignal
from emulator.sample_data import make_classification_set
from tests.functional.image_classification.conftest import base_hp, rec_channels, tar_model
from tests.jobtree import make_tree


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    root = tmp_path_factory.mktemp("ic-3")
    return {"train": make_classification_set(root / "train", 3, 16, size=(32, 32), seed=5),
            "validation": make_classification_set(root / "validation", 3, 16, size=(32, 32), seed=6)}


@pytest.fixture(scope="module")
def model_a(tmp_path_factory, ic_data):
    """Job A: 4 classes, its model.tar.gz."""
    from tests.jobtree import run_in_process
    root = tmp_path_factory.mktemp("ic-a")
    tree = make_tree(root / "job", base_hp(), rec_channels(ic_data))
    assert run_in_process(tree, "image-classification") == 0, tree.failure
    return tree.model, tar_model(tree.model, root / "model.tar.gz")


def _prepared(tmp_path, hp, channels) -> ClassificationJob:
    tree = make_tree(tmp_path / "b", hp, channels)
    env = TrainingEnv.read(MLPaths.from_env({"SAGEMAKER_BASE_DIR": str(tree.base)}))
    job = ClassificationJob(env, SCHEMA.parse(env.hyperparameters), StopSignal())
    job.prepare()
    return job


def test_the_loader_takes_every_fitting_parameter_and_a_new_head(model_a, three_classes, tmp_path, caplog):
    model_dir, tarball = model_a
    with caplog.at_level(logging.INFO, logger="smlocal"):
        job = _prepared(tmp_path, base_hp(num_classes=3, num_training_samples=48, warm_start_mode="transfer"),
                        rec_channels(three_classes, tarball))
    saved_arg, saved_aux = model_io.load_params(max(model_io.params_files(model_dir).items())[1])
    arg, aux = job.module.get_params()
    body = [n for n in saved_arg if not n.startswith("fc")]
    assert body and all(np.array_equal(arg[n].asnumpy(), saved_arg[n].asnumpy()) for n in body)
    assert all(np.array_equal(aux[n].asnumpy(), saved_aux[n].asnumpy()) for n in saved_aux)
    assert arg["fc_weight"].shape == (3, saved_arg["fc_weight"].shape[1]) and arg["fc_bias"].shape == (3,)
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{len(body) + len(saved_aux)} loaded, 2 re-initialised, 0 ignored" in log
    assert "fc_weight" in log and "shape 4x512 in the model, this network needs 3x512" in log


def test_strict_mode_still_refuses_another_num_classes(model_a, three_classes, tmp_path, run_ic):
    code, tree = run_ic(base_hp(num_classes=3, num_training_samples=48), rec_channels(three_classes, model_a[1]))
    assert code == 2
    assert "hyperparameter 'num_classes' is '3' in this job but the model was trained with '4'" in tree.failure


def test_transfer_then_strict_round_trip(model_a, three_classes, tmp_path, run_ic):
    hp = base_hp(num_classes=3, num_training_samples=48)
    code, b = run_ic({**hp, "warm_start_mode": "transfer"}, rec_channels(three_classes, model_a[1]))
    assert code == 0, b.failure
    arg, _ = model_io.load_params(max(model_io.params_files(b.model).items())[1])
    assert arg["fc_weight"].shape[0] == 3
    code, c = run_ic(hp, rec_channels(three_classes, tar_model(b.model, tmp_path / "b.tar.gz")))
    assert code == 0, c.failure


def test_transfer_keeps_num_layers_strict(model_a, three_classes, run_ic):
    hp = base_hp(num_layers=34, num_classes=3, num_training_samples=48, warm_start_mode="transfer")
    code, tree = run_ic(hp, rec_channels(three_classes, model_a[1]))
    assert code == 2 and "'num_layers' is '34'" in tree.failure


def test_a_file_of_another_network_is_refused_in_transfer_mode(three_classes, tmp_path, run_ic):
    model = tmp_path / "other"
    model.mkdir()
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="dense0")
    net.save(str(model / "image-classification-symbol.json"))
    model_io.save_params(model / "image-classification-0001.params",
                         {"dense0_weight": mx.nd.zeros((3, 10)), "dense0_bias": mx.nd.zeros(3)}, {})
    hp = base_hp(num_classes=3, num_training_samples=48, warm_start_mode="transfer")
    code, tree = run_ic(hp, rec_channels(three_classes, tar_model(model, tmp_path / "other.tar.gz")))
    assert code == 2
    assert "no parameter of the model in channel 'model' fits this network" in tree.failure
    assert "dense0_bias" in tree.failure


def _zoo_checkpoint(directory, name="resnet-18", seed=3):
    """A public ResNet-18 checkpoint as the MXNet model zoo names it: `<name>-symbol.json`,
    `<name>-0000.params`, a 1000-class classifier called fc1."""
    from algorithms.image_classification import network
    directory.mkdir(parents=True, exist_ok=True)
    with mx.name.NameManager():
        symbol = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(network.features(18), num_hidden=1000, name="fc1"),
                                      name="softmax")
    symbol.save(str(directory / f"{name}-symbol.json"))
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 28, 28))
    rng = np.random.RandomState(seed)
    arg = {n: mx.nd.array(rng.normal(0, 0.05, s)) for n, s in zip(symbol.list_arguments(), arg_shapes)
           if n not in ("data", "softmax_label")}
    aux = {n: mx.nd.array(np.abs(rng.normal(1, 0.1, s))) for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)}
    model_io.save_params(directory / f"{name}-0000.params", arg, aux)
    return arg, aux


def _transfer_from(folder, three_classes, tmp_path, caplog, saved, head) -> int:
    """Prepare a 3-class transfer job from the model in `folder` (tarred as a user uploads it);
    every saved array but the `head` layer's must start the job as it was. Returns their count."""
    arg0, aux0 = saved
    tarball = tar_model(folder, tmp_path / f"{folder.name}.tar.gz")
    with caplog.at_level(logging.INFO, logger="smlocal"):
        job = _prepared(tmp_path, base_hp(num_classes=3, num_training_samples=48, warm_start_mode="transfer"),
                        rec_channels(three_classes, tarball))
    arg, aux = job.module.get_params()
    body = [n for n in arg0 if not n.startswith(head)]
    assert all(np.array_equal(arg[n].asnumpy(), arg0[n].asnumpy()) for n in body)
    assert all(np.array_equal(aux[n].asnumpy(), aux0[n].asnumpy()) for n in aux0)
    assert arg["fc_weight"].shape == (3, 512)
    return len(body) + len(aux0)


def test_a_public_mxnet_checkpoint_seeds_a_transfer(three_classes, tmp_path, caplog):
    loaded = _transfer_from(tmp_path / "zoo", three_classes, tmp_path, caplog, _zoo_checkpoint(tmp_path / "zoo"), "fc1")
    assert ("Recognised a public MXNet checkpoint in channel 'model': resnet-18-symbol.json with "
            "resnet-18-0000.params") in caplog.text
    assert f"{loaded} loaded, 2 re-initialised, 2 ignored" in caplog.text
    assert "fc1_weight" in caplog.text and "not in this network" in caplog.text


def test_two_candidate_models_are_a_client_error_naming_both(three_classes, tmp_path, run_ic):
    _zoo_checkpoint(tmp_path / "two", "resnet-18")
    _zoo_checkpoint(tmp_path / "two" / "other", "resnet-18-copy")
    hp = base_hp(num_classes=3, num_training_samples=48, warm_start_mode="transfer")
    code, tree = run_ic(hp, rec_channels(three_classes, tar_model(tmp_path / "two", tmp_path / "two.tar.gz")))
    assert code == 2
    assert "holds 2 candidate models" in tree.failure
    assert "other/resnet-18-copy-symbol.json" in tree.failure and "'resnet-18-symbol.json'" in tree.failure


def test_a_truncated_public_checkpoint_is_a_client_error(three_classes, tmp_path, run_ic):
    _zoo_checkpoint(tmp_path / "cut")
    params = tmp_path / "cut" / "resnet-18-0000.params"
    params.write_bytes(params.read_bytes()[:5000])
    hp = base_hp(num_classes=3, num_training_samples=48, warm_start_mode="transfer")
    code, tree = run_ic(hp, rec_channels(three_classes, tar_model(tmp_path / "cut", tmp_path / "cut.tar.gz")))
    assert code == 2
    assert "Cannot read model parameters resnet-18-0000.params: damaged or not MXNet" in tree.failure


def test_a_public_gluon_resnet_v2_file_seeds_a_transfer(three_classes, tmp_path, caplog):
    from mxnet.gluon.model_zoo import vision
    zoo = vision.resnet18_v2(classes=1000)
    zoo.initialize(mx.init.Xavier())
    zoo(mx.nd.zeros((1, 3, 28, 28)))
    (tmp_path / "gluon").mkdir()
    zoo.save_parameters(str(tmp_path / "gluon" / "resnet18_v2-a81db45f.params"))
    saved = model_io.load_params(tmp_path / "gluon" / "resnet18_v2-a81db45f.params")
    loaded = _transfer_from(tmp_path / "gluon", three_classes, tmp_path, caplog, saved, "fc")
    assert "Recognised a public Gluon parameter file in channel 'model': resnet18_v2-a81db45f.params" in caplog.text
    # The fc head, and the first unit's projection that Gluon's ResNet-18 v2 does not have.
    assert f"{loaded} loaded, 3 re-initialised, 0 ignored" in caplog.text
    assert "stage1_unit1_sc_weight" in caplog.text

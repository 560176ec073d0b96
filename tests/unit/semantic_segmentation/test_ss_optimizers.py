"""The segmentation learning-rate schedules and every optimizer choice, on a tiny parameter set."""
import math

import mxnet as mx
import pytest
from mxnet import autograd, gluon

from algorithms.common import optim
from algorithms.semantic_segmentation.hyperparameters import OPTIMIZERS, parse
from algorithms.semantic_segmentation.train import MOMENTUM_OPTIMIZERS


def test_poly_decays_with_power_0_9_to_zero():
    schedule = optim.poly_scheduler(100, 0.01)
    assert schedule(0) == pytest.approx(0.01)
    assert schedule(50) == pytest.approx(0.01 * 0.5 ** 0.9)
    assert schedule(100) == pytest.approx(0.0)


def test_cosine_halves_at_the_middle():
    schedule = optim.cosine_scheduler(10, 0.1)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(5) == pytest.approx(0.05)
    assert schedule(10) == pytest.approx(0.0, abs=1e-12)


def test_step_multiplies_after_the_listed_epochs():
    schedule = optim.step_scheduler((2,), 0.1, epoch_batches=3, base_lr=1.0)
    assert [round(schedule(n), 6) for n in (1, 6, 7)] == [1.0, 1.0, 0.1]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_builds_and_steps(name):
    hp = parse({"num_classes": "2", "num_training_samples": "4", "optimizer": name})
    settings = dict(hp, weight_decay=hp.weight_decay if name in MOMENTUM_OPTIMIZERS else 0.0)
    params = optim.optimizer_params(name, settings, hp.learning_rate, optim.poly_scheduler(10, hp.learning_rate), 1.0)
    params.pop("rescale_grad")
    if name == "rmsprop":
        assert params["gamma1"] == hp.gamma1 and params["gamma2"] == hp.gamma2 and params["centered"]
    if name in MOMENTUM_OPTIMIZERS:
        assert params["momentum"] == 0.9 and params["wd"] == 0.0001
    layer = gluon.nn.Dense(2, in_units=3)
    layer.initialize()
    trainer = gluon.Trainer(layer.collect_params(), name, params)
    before = layer.weight.data().copy()
    with autograd.record():
        loss = layer(mx.nd.ones((4, 3))).sum()
    loss.backward()
    trainer.step(4)
    assert not math.isclose(float((layer.weight.data() - before).abs().sum().asscalar()), 0.0)

"""Each built-in optimizer trains through gluon.Trainer with the job's settings."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from algorithms.object_detection.hyperparameters import SCHEMA
from algorithms.object_detection.train import optimizer_settings

REQUIRED = {"num_classes": "2", "num_training_samples": "40", "mini_batch_size": "10"}


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adadelta"])
def test_every_optimizer_takes_a_step(optimizer):
    hp = SCHEMA.parse({**REQUIRED, "optimizer": optimizer, "learning_rate": "0.1"})
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(mx.init.Constant(1.0))
    trainer = gluon.Trainer(net.collect_params(), optimizer, optimizer_settings(hp))
    before = net.weight.data().asnumpy().copy()
    with autograd.record():
        loss = net(mx.nd.ones((1, 2))).sum()
    loss.backward()
    trainer.step(1)
    assert (net.weight.data().asnumpy() < before).all()


def test_weight_decay_only_for_sgd_and_rmsprop():
    for optimizer, wd in (("sgd", 0.0005), ("rmsprop", 0.0005), ("adam", 0.0), ("adadelta", 0.0)):
        assert optimizer_settings(SCHEMA.parse({**REQUIRED, "optimizer": optimizer}))["wd"] == wd


def test_step_schedule_counts_epochs_of_batches_and_resumes_where_it_was():
    hp = SCHEMA.parse({**REQUIRED, "lr_scheduler_step": "2,3", "lr_scheduler_factor": "0.5", "learning_rate": "0.1"})
    settings = optimizer_settings(hp, epochs_completed=3)
    scheduler = settings["lr_scheduler"]
    assert scheduler.step == [8, 12]  # 40 samples / 10 per batch = 4 batches per epoch
    assert settings["begin_num_update"] == 12
    rates = [scheduler(update) for update in (1, 9, 13)]
    assert np.allclose(rates, [0.1, 0.05, 0.025])

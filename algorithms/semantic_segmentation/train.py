"""Semantic segmentation training job: hyperparameters -> (warm) start -> data -> epochs -> artifacts."""
from __future__ import annotations


import mxnet as mx
from gluoncv.loss import MixSoftmaxCrossEntropyLoss
from mxnet import autograd, gluon

from algorithms.common import devices, optim
from algorithms.common.dataloader import fill_batch
from algorithms.common.early_stopping import EarlyStopping
from algorithms.common.job import CHECKPOINT, MODEL, BestModelArtifacts, Start, choose_start
from algorithms.common.pipe import PipeInterrupted
from algorithms.common.trainer import BatchTimer, EpochResult, LoopConfig, LoopState, run_epochs
from algorithms.semantic_segmentation import (data, hyperparameters, label_map, metrics, model_io, network,
                                               pipe_input, pretrained)
from algorithms.semantic_segmentation.data import LOSS_IGNORE
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

LOG_EVERY_BATCHES = 20
WORK_DIR = "semantic-segmentation"  # under /opt/ml/input/work: Pipe-mode epochs written out
MOMENTUM_OPTIMIZERS = ("sgd", "nag")  # momentum and weight_decay apply to these (DG-SS: "sgd only")


def train(env: TrainingEnv, stop: StopSignal) -> None:
    log = get_logger()
    log.info("Reading default configuration from the algorithm's schema; reading provided configuration.")
    hp = hyperparameters.parse(env.hyperparameters)
    log.info("Final configuration: %s", hp.as_strings())
    if env.resources.is_distributed:
        raise ClientError(f"Semantic segmentation trains on a single machine; this job has "
                          f"{len(env.resources.hosts)} hosts (set InstanceCount to 1)")
    job = SegmentationJob(env, hp, stop)
    job.prepare()
    job.run()


class SegmentationJob(BestModelArtifacts):
    model_io = model_io
    score_name = "validation mIOU"
    is_leader = True  # one machine

    def __init__(self, env: TrainingEnv, hp, stop: StopSignal):
        self.env, self.hp, self.stop = env, hp, stop
        self.log = get_logger()
        self.host = env.resources.current_host
        self.contexts = devices.training_contexts()
        self.model_dir = env.paths.model
        self.start = Start("random")

    # ---- set-up ------------------------------------------------------------------------------
    def prepare(self) -> None:
        hp = self.hp
        self._choose_initial_weights()  # model compatibility is checked before any data is read
        maps = label_map.read_label_maps(self.env)
        for channel_map in maps.values():
            label_map.check_classes(channel_map, hp.num_classes)
        work = self.env.paths.work / WORK_DIR
        # Pipe mode: SIGTERM may cut short the reading of later training epochs; validation is
        # always read whole.
        self.train_data = pipe_input.ChannelData(self.env, "train", maps["train"], hp.num_classes, work, self.stop)
        self.val_data = pipe_input.ChannelData(self.env, "validation", maps["validation"], hp.num_classes, work)
        self.train_ds, self.val_ds = self.train_data.first, self.val_data.first
        if self.train_ds.count < hp.mini_batch_size:
            raise ClientError(
                f"The number of training images must be at least mini_batch_size: channel 'train' has "
                f"{self.train_ds.count} images, mini_batch_size is {hp.mini_batch_size}")
        if hp.mini_batch_size < len(self.contexts):
            raise ClientError(f"mini_batch_size ({hp.mini_batch_size}) must be at least the number of devices "
                              f"({len(self.contexts)})")
        if self.train_ds.count != hp.num_training_samples:
            self.log.info("num_training_samples is %d but channel 'train' holds %d images; the learning-rate "
                          "schedule is sized by num_training_samples.", hp.num_training_samples, self.train_ds.count)
        self._build_network()
        self._build_trainer()
        self.workers = data.loader_workers()
        self.train_loader = data.train_loader(self.train_ds, hp, self.workers)
        self.val_loader = data.validation_loader(self.val_ds, hp, self.workers)
        self.confusion = metrics.ConfusionMatrix(hp.num_classes)

    def _choose_initial_weights(self) -> None:
        """Checkpoint (a restarted job) > model channel (incremental) > pretrained backbone > random."""
        hp = self.hp
        self.start = choose_start(self.env, model_io.read_saved_model,
                                  lambda saved: hyperparameters.saved_architecture(saved.architecture()),
                                  hyperparameters.architecture(hp), hp.use_pretrained_model, hp.warm_start_mode)
        if self.start.source == CHECKPOINT:
            self.restore_best(self.env.checkpoint_dir)
        elif self.start.source == MODEL:
            self.log.info("Incremental training: initialising %s from %s of the earlier job.",
                          "the layers that fit" if self.start.transfer else "every layer", model_io.PARAMS_FILE)
        elif hp.use_pretrained_model:
            pretrained.store_path(hp.backbone)  # a missing file fails now, before data is read

    @property
    def state(self) -> LoopState:
        return self.start.state

    def _build_network(self) -> None:
        hp = self.hp
        if hp.syncbn and not network.normalisation(True, self.contexts):
            self.log.info("syncbn=True applies to GPUs; on the CPU BatchNorm statistics are per device.")
        elif hp.syncbn and len(self.contexts) == 1:
            self.log.info("syncbn=True with one device: BatchNorm statistics are those of the one device.")
        self.net = network.build(hp.algorithm, hp.backbone, hp.num_classes, hp.crop_size, hp.base_size,
                                 self.contexts, syncbn=hp.syncbn)
        if self.start.from_saved:
            model_io.load_into(self.net, self.start.saved, self.start.source, self.contexts,
                               transfer=self.start.transfer)
        elif hp.use_pretrained_model:
            pretrained.load_backbone_weights(self.net, hp.backbone, self.contexts)
        else:
            self.log.info("use_pretrained_model=False: the %s backbone starts from random weights.", hp.backbone)
        self.net.hybridize(**network.HYBRIDIZE)
        self.loss = MixSoftmaxCrossEntropyLoss(aux=True, aux_weight=network.AUX_WEIGHT, ignore_label=LOSS_IGNORE)

    def _build_trainer(self) -> None:
        hp = self.hp
        epoch_batches = optim.batches_per_epoch(hp.num_training_samples, hp.mini_batch_size)
        if hp.lr_scheduler == "poly":
            scheduler = optim.poly_scheduler(hp.epochs * epoch_batches, hp.learning_rate)
        elif hp.lr_scheduler == "cosine":
            scheduler = optim.cosine_scheduler(hp.epochs * epoch_batches, hp.learning_rate)
        else:
            scheduler = optim.step_scheduler(hp.lr_scheduler_step, hp.lr_scheduler_factor, epoch_batches,
                                             hp.learning_rate)
        settings = dict(hp)
        if hp.optimizer not in MOMENTUM_OPTIMIZERS:
            settings["weight_decay"] = 0.0
        params = optim.optimizer_params(hp.optimizer, settings, hp.learning_rate, scheduler, rescale_grad=1.0)
        params.pop("rescale_grad")  # Trainer.step sets it from the batch size
        params["begin_num_update"] = self.state.epochs_completed * epoch_batches
        # One machine (the built-in is single-instance): Gluon's default "device" kvstore sums the
        # gradients of several devices, and is skipped for one.
        self.trainer = gluon.Trainer(self.net.collect_params(), hp.optimizer, params)
        if self.start.optimizer_states is not None:
            self.trainer.load_states(str(self.start.optimizer_states))

    # ---- the epoch loop (run_epochs calls back into the methods below) -----------------------
    def run(self) -> None:
        hp = self.hp
        config = LoopConfig(
            epochs=hp.epochs, objective="mIOU", checkpoint_frequency=None,
            early_stopping=EarlyStopping(hp.early_stopping, hp.early_stopping_min_epochs,
                                         hp.early_stopping_patience, hp.early_stopping_tolerance),
            checkpoint_dir=self.env.checkpoint_dir)
        run_epochs(self, config, self.state, self.stop)

    def train_epoch(self, epoch: int, stop: StopSignal) -> EpochResult:
        timer = BatchTimer(epoch, LOG_EVERY_BATCHES, self.hp.mini_batch_size)
        loss_sum, interrupted = 0.0, False
        batches = self._epoch_batches()
        while True:
            if stop.requested or batches is None:
                interrupted = True
                break
            try:
                batch = next(batches)
            except StopIteration:
                break
            timer.data_ready()
            images, labels, count = fill_batch(*batch, self.hp.mini_batch_size, LOSS_IGNORE)
            images = gluon.utils.split_and_load(images, self.contexts, even_split=False)
            labels = gluon.utils.split_and_load(labels, self.contexts, even_split=False)
            with autograd.record():
                losses = [self.loss(*self.net(x), y) for x, y in zip(images, labels)]
            autograd.backward(losses)
            self.trainer.step(count)  # the filler's loss and gradient are zero
            # Reading the loss waits for this step, so the next batch's wait is data, not compute.
            loss_sum += sum(float(loss.sum().asscalar()) for loss in losses)
            timer.batch_done(count, extra=f"\tloss={loss_sum / max(timer.samples + count, 1):.6f}")
        result = timer.result({}, interrupted)
        if not interrupted:
            result.metrics["loss"] = loss_sum / max(result.samples, 1)
            metrics.log_train(self.host, epoch, result.metrics["loss"], result.throughput)
            self.log.info("Epoch[%d] Time cost=%.3f (data wait %.3fs, compute %.3fs)", epoch, result.wall,
                          result.data_wait, result.compute)
        return result

    def _epoch_batches(self):
        """This epoch's training batches; None when SIGTERM cut short reading a Pipe-mode epoch."""
        try:
            ds = self.train_data.next_epoch()
        except PipeInterrupted:
            return None
        if ds is not self.train_ds:  # Pipe mode: new files every epoch
            self.train_ds, self.train_loader = ds, data.train_loader(ds, self.hp, self.workers)
        return iter(self.train_loader)

    def validate(self, epoch: int) -> dict[str, float]:
        ds = self.val_data.next_epoch()
        if ds is not self.val_ds:
            self.val_ds, self.val_loader = ds, data.validation_loader(ds, self.hp, self.workers)
        self.confusion.reset()
        timer = BatchTimer(epoch, 0, self.hp.validation_mini_batch_size)
        if self.hp.validation_mini_batch_size == 1:
            with network.imperative(self.net):  # whole images: each at its own size
                for images, labels in self.val_loader:
                    timer.data_ready()
                    scores = network.predict_whole(self.net, images.as_in_context(self.contexts[0]))
                    self._score(scores, labels, timer)
        else:
            for images, labels in self.val_loader:
                timer.data_ready()
                parts = gluon.utils.split_and_load(images, self.contexts, even_split=False)
                outputs = [self.net(x)[0] for x in parts]
                scores = mx.nd.concat(*[o.as_in_context(mx.cpu()) for o in outputs], dim=0)
                self._score(scores, labels, timer)
        result = timer.result({}, False)
        values = {"pixel_accuracy": self.confusion.pixel_accuracy(), "mIOU": self.confusion.mean_iou()}
        metrics.log_validation(self.host, epoch, values["pixel_accuracy"], values["mIOU"], result.throughput)
        return values

    def _score(self, scores: mx.nd.NDArray, labels: mx.nd.NDArray, timer: BatchTimer) -> None:
        predictions = scores.argmax(axis=1).asnumpy()
        self.confusion.update(labels.asnumpy(), predictions)
        timer.batch_done(predictions.shape[0])

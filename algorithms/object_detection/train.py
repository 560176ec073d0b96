"""Object detection training job: hyperparameters -> (warm) start -> data -> epochs -> artifacts.

On several hosts (docs/distributed-and-pipe.md) the workers move in lockstep with `dist_sync`:
they agree before every batch whether any of them still has one and none was stopped (a host
whose part ended first takes steps without samples meanwhile), average
the BatchNorm statistics after every epoch, and compute one validation mAP from the detections
of every host's part of the validation data. Host 1 writes the model and the checkpoints."""
from __future__ import annotations

import json

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from algorithms.common import devices, optim
from algorithms.common.dataloader import fill_batch
from algorithms.common.distributed import WorkerGroup, idle_trainer_step, worker_group
from algorithms.common.early_stopping import EarlyStopping
from algorithms.common.job import CHECKPOINT, MODEL, BestModelArtifacts, Start, choose_start
from algorithms.common.pipe import PipeInterrupted
from algorithms.common.trainer import BatchTimer, EpochResult, LoopConfig, LoopState, run_epochs
from algorithms.object_detection import data, metrics, model_io, network, pretrained
from algorithms.object_detection.hyperparameters import SCHEMA, architecture, effective_kv_store
from algorithms.object_detection.loss import ssd_loss
from container.config import TrainingEnv
from container.errors import AlgorithmError, ClientError
from container.logs import get_logger
from container.stop import StopSignal

LOG_EVERY_BATCHES = 20
PROGRESS_LINE = ("Epoch: {epoch:4d}, batches: {batch:6d}, num_examples: {samples:6d}, {speed:.1f} samples/sec, "
                 "epoch time so far: {elapsed}")


def train(env: TrainingEnv, stop: StopSignal) -> None:
    log = get_logger()
    log.info("Reading default configuration from the algorithm's schema; reading provided configuration.")
    hp = SCHEMA.parse(env.hyperparameters)
    log.info("#metrics %s", json.dumps({"Algorithm": "AWS/Object Detection", "Host": env.resources.current_host}))
    log.info("Final configuration: %s", hp.as_strings())
    job = DetectionJob(env, hp, stop)
    job.prepare()
    job.run()


class DetectionJob(BestModelArtifacts):
    model_io = model_io
    score_name = "validation-mAP"

    def __init__(self, env: TrainingEnv, hp, stop: StopSignal):
        self.env, self.hp, self.stop = env, hp, stop
        self.log = get_logger()
        self.host = env.resources.current_host
        self.contexts = devices.training_contexts()
        # gluon.Trainer addresses the kvstore by integer keys, so the group's keys must be too.
        self.group = worker_group(effective_kv_store(hp), env.resources, len(self.contexts),
                                  devices.uses_gpu(self.contexts), integer_keys=True)
        self.lockstep_hosts = lockstep_hosts(self.group)
        if self.group.distributed:
            self.log.info("_num_kv_servers=%s (parameter servers are started by the launcher)", hp._num_kv_servers)
        self.work = env.paths.work / "object-detection"
        self.model_dir = env.paths.model
        self.start = Start("random")

    # ---- set-up ------------------------------------------------------------------------------
    def prepare(self) -> None:
        hp = self.hp
        self._choose_initial_weights()  # model compatibility is checked before any data is read
        # Pipe mode: SIGTERM may cut short the reading of later training epochs (validation is
        # always read whole, so every worker validates the same epochs).
        self.train_data = data.ChannelData(self.env, "train", hp, self.work, self.stop)
        self.val_data = data.ChannelData(self.env, "validation", hp, self.work)
        self.train_ds, self.val_ds = self.train_data.first, self.val_data.first
        # The host's share: part of FullyReplicated data, all of a ShardedByS3Key shard.
        self.train_part = self.group.part_of(self.train_data.config)
        # dist_sync: the hosts split the validation data too, and their detections are pooled
        # into one mAP. dist_async has no lockstep: each host validates all the data it has.
        self.val_part = self.group.part_of(self.val_data.config) if self.group.synchronous else (0, 1)
        if self.group.distributed:
            self.log.info("Host %s (%d of %d) trains on part %d of %d of channel 'train' and validates part %d "
                          "of %d of channel 'validation'", self.host, self.group.rank + 1, self.group.size,
                          self.train_part[0] + 1, self.train_part[1], self.val_part[0] + 1, self.val_part[1])
        self._check_counts()
        self._build_network()
        self._build_trainer()
        self.loader_workers = data.loader_workers(devices.uses_gpu(self.contexts), devices.cpu_threads())
        self.train_loader = self._train_loader(self.train_ds)
        self.val_loader = self._validation_loader(self.val_ds)
        self.val_metric = metrics.MeanAveragePrecision(hp.num_classes, hp.overlap_threshold)

    def _check_counts(self) -> None:
        hp = self.hp
        images = len(data.records(self.train_ds, *self.train_part))
        if images < hp.mini_batch_size:
            share = (f" ({self.env.resources.current_host} trains on {images} of them)"
                     if images != self.train_ds.count else "")
            raise ClientError(
                f"The number of input images must be bigger or equal to the mini_batch_size: channel "
                f"'train' has {self.train_ds.count} images{share}, mini_batch_size is {hp.mini_batch_size}")
        # Summed over the hosts: a ShardedByS3Key shard without objects is fine if others have some.
        objects = self.group.all_sum("validation-objects", [sum(self.val_ds.objects_per_class.values())])
        if not objects[0]:
            raise ClientError("Channel 'validation' holds no annotated objects, so mAP cannot be computed")
        if hp.mini_batch_size % len(self.contexts):
            raise ClientError(f"mini_batch_size ({hp.mini_batch_size}) must be divisible by the number of "
                              f"devices ({len(self.contexts)})")

    def _train_loader(self, ds: data.DetectionSet):
        return data.train_loader(ds, self.hp, self.hp.mini_batch_size, self.loader_workers, *self.train_part)

    def _validation_loader(self, ds: data.DetectionSet):
        return data.validation_loader(ds, self.hp, self.hp.mini_batch_size, self.loader_workers, *self.val_part)

    def _choose_initial_weights(self) -> None:
        """Checkpoint (a restarted job) > model channel (incremental) > pretrained base > random."""
        self.start = choose_start(self.env, model_io.read_saved_model, lambda saved: saved.hyperparameters,
                                  architecture(self.hp), self.hp.use_pretrained_model, self.hp.warm_start_mode)
        if self.start.source == CHECKPOINT:
            self.restore_best(self.env.checkpoint_dir)
        elif self.start.source == MODEL:
            self.log.info("Incremental training: initialising from %s.", self.start.saved.params.name)

    @property
    def state(self) -> LoopState:
        return self.start.state

    @property
    def is_leader(self) -> bool:
        return self.group.is_leader

    @property
    def optimizer_states_here(self) -> bool:
        return not self.group.optimizer_on_servers

    def _build_network(self) -> None:
        hp = self.hp
        layout = network.V1
        if self.start.from_saved and hp.base_network == "resnet-50":
            layout = model_io.base_layout(self.start.saved.params, self.start.source)
            if layout == network.PREACT:
                self.log.info("Base network: the built-in's pre-activation ResNet-50 (the parameters in %s "
                              "have it).", self.start.source)
        base = network.base_network_block(hp.base_network, hp.image_shape) if layout == network.V1 else None
        self.net = network.build(hp.base_network, hp.image_shape, hp.num_classes, hp.nms_threshold,
                                 hp.nms_topk, base=base, layout=layout)
        self.net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),
                            ctx=self.contexts)
        if self.start.from_saved:
            model_io.load_params(self.net, self.start.saved.params, self.start.source, self.contexts,
                                 transfer=self.start.transfer)
        elif hp.use_pretrained_model:
            pretrained.load_base_weights(base, hp.base_network, self.contexts)
        if hp.freeze_layer_pattern:
            frozen = network.freeze(self.net, hp.freeze_layer_pattern)
            if not frozen:
                examples = network.base_parameter_names(self.net)[:3]
                raise ClientError(
                    f"Invalid value '{hp.freeze_layer_pattern}' for hyperparameter 'freeze_layer_pattern': it "
                    f"matches no {hp.base_network} parameter (names look like {', '.join(examples)}; see "
                    f"docs/object-detection.md)")
            self.log.info("Frozen %d base-network parameters matching '%s'.", len(frozen), hp.freeze_layer_pattern)
        if self.group.distributed:
            # Gluon initialises some parameters only at the first forward pass, and the kvstore
            # needs them all before training (start_trainer), so one image's pass comes first.
            side = hp.image_shape
            self.net(mx.nd.zeros((1, 3, side, side), ctx=self.contexts[0])).wait_to_read()
            # dist_sync: every worker starts from host 1's BatchNorm statistics (and frozen
            # layers); the Trainer shares the trainable weights.
            self.group.start_parameters(self.net.collect_params())
        self.net.hybridize(static_alloc=True, static_shape=True)

    def _build_trainer(self) -> None:
        params = optimizer_settings(self.hp, self.lockstep_hosts, self.state.epochs_completed)
        trainable = {name: p for name, p in self.net.collect_params().items() if p.grad_req != "null"}
        self.trainer = gluon.Trainer(trainable, self.hp.optimizer, params, kvstore=self.group.kv)
        # Before load_states, which would otherwise set up the kvstore itself (see start_trainer).
        self.group.start_trainer(self.trainer)
        if self.start.optimizer_states is not None and self.optimizer_states_here:
            self.trainer.load_states(str(self.start.optimizer_states))

    # ---- the epoch loop (run_epochs calls back into the methods below) -----------------------
    def run(self) -> None:
        hp = self.hp
        config = LoopConfig(
            epochs=hp.epochs, objective="mAP", checkpoint_frequency=None,
            early_stopping=EarlyStopping(hp.early_stopping, hp.early_stopping_min_epochs,
                                         hp.early_stopping_patience, hp.early_stopping_tolerance),
            checkpoint_dir=self.env.checkpoint_dir if self.group.is_leader else None)
        if self.state.epochs_completed >= hp.epochs:
            self.log.info("All %d epochs were completed before; saving the model.", hp.epochs)
            self.save_model(hp.epochs - 1, "final")
            return
        run_epochs(self, config, self.state, self.stop)

    def train_epoch(self, epoch: int, stop: StopSignal) -> EpochResult:
        hp = self.hp
        self.net.training_outputs(True)
        timer = BatchTimer(epoch, LOG_EVERY_BATCHES, hp.mini_batch_size, line=PROGRESS_LINE)
        ce_sum = l1_sum = 0.0
        anchors_used = 0
        batches = self._epoch_batches()
        while True:
            batch = None if stop.requested or batches is None else next(batches, None)
            # On several hosts every worker ends the epoch at the same batch: when one of them
            # runs out of data or was asked to stop (then stop.requested is set on all).
            if not self.group.keep_going(batch is not None, stop):
                break
            timer.data_ready()
            if batch is None:  # this host's part is done, another host's is not: a step without samples
                idle_trainer_step(self.trainer, len(self.contexts) * self.lockstep_hosts)
                timer.batch_done(0)
                continue
            images, labels, count = fill_batch(*batch, hp.mini_batch_size, data.PADDING_CLASS)
            images = gluon.utils.split_and_load(images, self.contexts)
            labels = gluon.utils.split_and_load(labels, self.contexts)
            with autograd.record():
                losses = [ssd_loss(*self.net(x), y, hp.image_shape) for x, y in zip(images, labels)]
            autograd.backward([loss.loss for loss in losses])
            # Each device's loss is a mean already: the step averages over devices (and hosts).
            self.trainer.step(len(self.contexts) * self.lockstep_hosts)
            # Reading the sums waits for this step, so the next batch's wait is data, not compute.
            ce_sum += sum(float(loss.cross_entropy_sum.asscalar()) for loss in losses)
            l1_sum += sum(float(loss.smooth_l1_sum.asscalar()) for loss in losses)
            anchors_used += sum(int(loss.anchors_used.asscalar()) for loss in losses)
            mx.nd.waitall()
            timer.batch_done(count)
            if timer.batches % LOG_EVERY_BATCHES == 0:
                metrics.log_train_losses(self.host, epoch, timer.batches, *_per_anchor(ce_sum, l1_sum, anchors_used))
        interrupted = stop.requested
        self.group.sync_running_statistics(self.net.collect_params())
        self._check_same_network(epoch)
        result = timer.result({}, interrupted)
        if not interrupted:
            cross_entropy, smooth_l1 = _per_anchor(ce_sum, l1_sum, anchors_used)
            result.metrics.update(cross_entropy=cross_entropy, smooth_l1=smooth_l1)
            metrics.log_train_losses(self.host, epoch, timer.batches, cross_entropy, smooth_l1)
            metrics.log_throughput(self.host, result.throughput)
            self.log.info("Epoch[%d] Time cost=%.3f (%d batches of this host, data wait %.3fs, compute %.3fs)",
                          epoch, result.wall, timer.batches, result.data_wait, result.compute)
        return result

    def _check_same_network(self, epoch: int) -> None:
        """dist_sync keeps the network identical on every host (same summed gradients, same
        updates, averaged BatchNorm statistics). A host whose network differed would make host 1's
        model disagree with the validation mAP, so that is an error, never a silent drift."""
        if not self.group.synchronous:
            return
        checksum = [0.0, 0.0]  # sum and absolute sum of every learned value (≈ 0.2 s for ResNet-50)
        for param in self.net.collect_params().values():
            if not network.is_constant(param):
                values = param.list_data()[0].asnumpy()
                checksum[0] += float(values.sum(dtype=np.float64))
                checksum[1] += float(np.abs(values).sum(dtype=np.float64))
        self.log.info("Epoch[%d] network checksum %.12e %.12e on %s", epoch, *checksum, self.host)
        if self.group.differs_from_leader("network-checksum", checksum):
            raise AlgorithmError(f"The network on {self.host} differs from host 1's after epoch {epoch} "
                               f"(checksum {checksum})")

    def _epoch_batches(self):
        """This epoch's training batches; None when SIGTERM cut short reading a Pipe-mode epoch."""
        try:
            ds = self.train_data.next_epoch()
        except PipeInterrupted:
            return None
        if ds is not self.train_ds:  # Pipe mode: a new file every epoch
            self.train_ds, self.train_loader = ds, self._train_loader(ds)
        return iter(self.train_loader)

    def validate(self, epoch: int) -> dict[str, float]:
        ds = self.val_data.next_epoch()
        if ds is not self.val_ds:
            self.val_ds, self.val_loader = ds, self._validation_loader(ds)
        self.net.training_outputs(False)
        self.val_metric.reset()
        images_here = 0
        for images, labels, sizes in self.val_loader or ():
            detections = self.net(images.as_in_context(self.contexts[0]))
            self.val_metric.update(detections.asnumpy(), labels.asnumpy(), sizes.asnumpy())
            images_here += images.shape[0]
        if self.group.synchronous:
            # Every host scored its part: pooling the detections gives every host the mAP of the
            # whole validation data (mAP ranks all detections of a class, so it cannot be summed).
            positives, detections = self.val_metric.records()
            positives = self.group.all_sum("validation-positives", positives)
            self.val_metric.set_records(positives, self.group.all_gather("validation-detections", detections))
            self.log.info("Validation of epoch %d: %d images on this host; mAP over the %d ground-truth objects "
                          "of all hosts", epoch, images_here, int(positives.sum()))
        # A SIGTERM seen by any worker during validation is seen by all.
        self.group.share_stop(self.stop)
        value = self.val_metric.get()
        metrics.log_validation_map(self.host, epoch, value)
        metrics.log_progress(self.host, epoch + 1, self.hp.epochs)
        return {"mAP": value}


def lockstep_hosts(group: WorkerGroup) -> int:
    """Hosts whose gradients make up each step. With dist_sync the Trainer pulls gradients summed
    over every host's devices (the optimizer runs on the workers), so the step divides by
    devices × hosts and the schedule counts steps of the combined batch. With dist_async each
    host's gradients are applied on their own."""
    return group.size if group.synchronous else 1


def optimizer_settings(hp, lockstep_hosts: int = 1, epochs_completed: int = 0) -> dict:
    """Optimizer arguments for gluon.Trainer from the built-in's hyperparameters: the step
    schedule counts epochs of num_training_samples (in steps of `lockstep_hosts` ×
    mini_batch_size images); a resumed job continues its schedule."""
    epoch_batches = optim.batches_per_epoch(hp.num_training_samples, hp.mini_batch_size, lockstep_hosts)
    scheduler = optim.step_scheduler(hp.lr_scheduler_step, hp.lr_scheduler_factor, epoch_batches, hp.learning_rate)
    # Weight decay applies to sgd and rmsprop only, as documented for the built-in.
    settings = dict(hp, weight_decay=hp.weight_decay if hp.optimizer in ("sgd", "rmsprop") else 0.0)
    params = optim.optimizer_params(hp.optimizer, settings, hp.learning_rate, scheduler, rescale_grad=1.0)
    params.pop("rescale_grad")  # Trainer.step sets it from the number of devices and workers
    params["begin_num_update"] = epochs_completed * epoch_batches
    return params


def _per_anchor(ce_sum: float, l1_sum: float, anchors_used: int) -> tuple[float, float]:
    count = max(anchors_used, 1)
    return ce_sum / count, l1_sum / count

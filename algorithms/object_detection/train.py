"""Object detection training job: hyperparameters -> (warm) start -> data -> epochs -> artifacts."""
from __future__ import annotations

import json
from pathlib import Path

import mxnet as mx
from mxnet import autograd, gluon

from algorithms.common import devices, optim
from algorithms.common.distributed import kvstore_for
from algorithms.common.early_stopping import EarlyStopping
from algorithms.common.trainer import BatchTimer, EpochResult, LoopConfig, LoopState, run_epochs
from algorithms.common.warm_start import check_matching, model_channel_dir
from algorithms.object_detection import data, metrics, model_io, network, pretrained
from algorithms.object_detection.hyperparameters import SCHEMA, architecture, effective_kv_store
from algorithms.object_detection.loss import ssd_loss
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

LOG_EVERY_BATCHES = 20
PROGRESS_LINE = ("Epoch: {epoch:4d}, batches: {batch:6d}, num_examples: {samples:6d}, {speed:.1f} samples/sec, "
                 "epoch time so far: {elapsed}")
TRAINER_STATES = "trainer.states"
BEST_DIR = "best"  # inside the checkpoint directory: the best model so far, restored on resume


def train(env: TrainingEnv, stop: StopSignal) -> None:
    log = get_logger()
    log.info("Reading default configuration from the algorithm's schema; reading provided configuration.")
    hp = SCHEMA.parse(env.hyperparameters)
    log.info("#metrics %s", json.dumps({"Algorithm": "AWS/Object Detection", "Host": env.resources.current_host}))
    log.info("Final configuration: %s", hp.as_strings())
    job = DetectionJob(env, hp, stop)
    job.prepare()
    job.run()


class DetectionJob:
    def __init__(self, env: TrainingEnv, hp, stop: StopSignal):
        self.env, self.hp, self.stop = env, hp, stop
        self.log = get_logger()
        self.host = env.resources.current_host
        self.contexts = devices.training_contexts()
        self.kv = kvstore_for(effective_kv_store(hp), env.resources, len(self.contexts),
                              devices.uses_gpu(self.contexts))
        distributed = isinstance(self.kv, mx.kvstore.KVStore) and "dist" in self.kv.type
        self.workers = self.kv.num_workers if distributed else 1
        self.rank = self.kv.rank if distributed else 0
        if distributed:
            self.log.info("_num_kv_servers=%s (parameter servers are started by the launcher)", hp._num_kv_servers)
        self.work = env.paths.work / "object-detection"
        self.model_dir = env.paths.model
        self.state = LoopState()
        self.initial_params: tuple[Path, str] | None = None  # (params file, where it came from)
        self.resume_states: Path | None = None

    # ---- set-up ------------------------------------------------------------------------------
    def prepare(self) -> None:
        hp = self.hp
        self._choose_initial_weights()  # model compatibility is checked before any data is read
        self.train_ds = data.prepare(self.env, "train", hp, self.work)
        self.val_ds = data.prepare(self.env, "validation", hp, self.work)
        if self.train_ds.count < hp.mini_batch_size:
            raise ClientError(
                f"The number of input images must be bigger or equal to the mini_batch_size: channel "
                f"'train' has {self.train_ds.count} images, mini_batch_size is {hp.mini_batch_size}")
        if not self.val_ds.objects_per_class:
            raise ClientError("Channel 'validation' holds no annotated objects, so mAP cannot be computed")
        if hp.mini_batch_size % len(self.contexts):
            raise ClientError(f"mini_batch_size ({hp.mini_batch_size}) must be divisible by the number of "
                              f"devices ({len(self.contexts)})")
        self._build_network()
        self._build_trainer()
        workers = data.loader_workers(devices.uses_gpu(self.contexts), devices.cpu_threads())
        self.train_loader = data.train_loader(self.train_ds, hp, hp.mini_batch_size, workers,
                                              part_index=self.rank, num_parts=self.workers)
        self.val_loader = data.validation_loader(self.val_ds, hp, hp.mini_batch_size, workers)
        self.val_metric = metrics.MeanAveragePrecision(hp.num_classes, hp.overlap_threshold)

    def _choose_initial_weights(self) -> None:
        """Checkpoint (a restarted job) > model channel (incremental) > pretrained base > random."""
        hp = self.hp
        ckpt = self.env.checkpoint_dir
        if ckpt is not None and (restored := LoopState.load(ckpt)) is not None:
            saved = model_io.read_saved_model(ckpt, "the checkpoint directory")
            check_matching(architecture(hp), saved.hyperparameters, "the checkpoint directory")
            self.initial_params = (saved.params, "the checkpoint directory")
            self.state = restored
            states = ckpt / TRAINER_STATES
            self.resume_states = states if states.is_file() else None
            if model_io.has_model(ckpt / BEST_DIR) and self.rank == 0:
                model_io.copy_model(ckpt / BEST_DIR, self.model_dir)
            self.log.info("Resuming from the checkpoint: %d epoch(s) already completed.", restored.epochs_completed)
            return
        model_dir = model_channel_dir(self.env)
        if model_dir is not None:
            saved = model_io.read_saved_model(model_dir, "channel 'model'")
            check_matching(architecture(hp), saved.hyperparameters, "channel 'model'")
            self.initial_params = (saved.params, "channel 'model'")
            self.log.info("Incremental training: initialising from %s.", saved.params.name)
            if hp.use_pretrained_model:
                self.log.info("use_pretrained_model is ignored because a model channel is present.")

    def _build_network(self) -> None:
        hp = self.hp
        base = network.base_network_block(hp.base_network, hp.image_shape)
        self.net = network.build(hp.base_network, hp.image_shape, hp.num_classes, hp.nms_threshold,
                                 hp.nms_topk, base=base)
        self.net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),
                            ctx=self.contexts)
        if self.initial_params is not None:
            model_io.load_params(self.net, *self.initial_params, self.contexts)
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
        self.net.hybridize(static_alloc=True, static_shape=True)

    def _build_trainer(self) -> None:
        params = optimizer_settings(self.hp, self.workers, self.state.epochs_completed)
        trainable = {name: p for name, p in self.net.collect_params().items() if p.grad_req != "null"}
        self.trainer = gluon.Trainer(trainable, self.hp.optimizer, params, kvstore=self.kv)
        if self.resume_states is not None:
            self.trainer.load_states(str(self.resume_states))

    # ---- the epoch loop (run_epochs calls back into the methods below) -----------------------
    def run(self) -> None:
        hp = self.hp
        config = LoopConfig(
            epochs=hp.epochs, objective="mAP", checkpoint_frequency=None,
            early_stopping=EarlyStopping(hp.early_stopping, hp.early_stopping_min_epochs,
                                         hp.early_stopping_patience, hp.early_stopping_tolerance),
            checkpoint_dir=self.env.checkpoint_dir if self.rank == 0 else None)
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
        interrupted = False
        batches = iter(self.train_loader)
        while True:
            if stop.requested:
                interrupted = True
                break
            try:
                images, labels = next(batches)
            except StopIteration:
                break
            timer.data_ready()
            images = gluon.utils.split_and_load(images, self.contexts)
            labels = gluon.utils.split_and_load(labels, self.contexts)
            with autograd.record():
                losses = [ssd_loss(*self.net(x), y, hp.image_shape) for x, y in zip(images, labels)]
            autograd.backward([loss.loss for loss in losses])
            self.trainer.step(len(self.contexts) * self.workers)
            # Reading the sums waits for this step, so the next batch's wait is data, not compute.
            ce_sum += sum(float(loss.cross_entropy_sum.asscalar()) for loss in losses)
            l1_sum += sum(float(loss.smooth_l1_sum.asscalar()) for loss in losses)
            anchors_used += sum(int(loss.anchors_used.asscalar()) for loss in losses)
            mx.nd.waitall()
            timer.batch_done(sum(x.shape[0] for x in images))
            if timer.batches % LOG_EVERY_BATCHES == 0:
                metrics.log_train_losses(self.host, epoch, timer.batches, *_per_anchor(ce_sum, l1_sum, anchors_used))
        result = timer.result({}, interrupted)
        if not interrupted:
            cross_entropy, smooth_l1 = _per_anchor(ce_sum, l1_sum, anchors_used)
            result.metrics.update(cross_entropy=cross_entropy, smooth_l1=smooth_l1)
            metrics.log_train_losses(self.host, epoch, timer.batches, cross_entropy, smooth_l1)
            metrics.log_throughput(self.host, result.throughput)
            self.log.info("Epoch[%d] Time cost=%.3f (data wait %.3fs, compute %.3fs)", epoch, result.wall,
                          result.data_wait, result.compute)
        return result

    def validate(self, epoch: int) -> dict[str, float]:
        self.net.training_outputs(False)
        self.val_metric.reset()
        for images, labels, sizes in self.val_loader:
            detections = self.net(images.as_in_context(self.contexts[0]))
            self.val_metric.update(detections.asnumpy(), labels.asnumpy(), sizes.asnumpy())
        value = self.val_metric.get()
        metrics.log_validation_map(self.host, epoch, value)
        metrics.log_progress(self.host, epoch + 1, self.hp.epochs)
        return {"mAP": value}

    def save_model(self, epoch: int, reason: str) -> None:
        """The artifact is the best-mAP model: 'best' replaces it; a stop or the end of a resumed
        job writes the current weights only when no best model exists yet."""
        if self.rank != 0:
            return
        if reason != "best" and model_io.has_model(self.model_dir):
            self.log.info("Keeping the best model (validation mAP %s) in %s.", self.state.best_score, self.model_dir)
            return
        if reason == "best":
            self.log.info("Updating the best model with validation-mAP=%f", self.state.best_score or 0.0)
        path = model_io.export(self.net, self.model_dir, self.hp.as_strings())
        self.log.info('Saved checkpoint to "%s"', path)

    def save_checkpoint(self, directory: Path, state: LoopState) -> None:
        model_io.export(self.net, directory, self.hp.as_strings())
        tmp = directory / f"{TRAINER_STATES}.tmp"
        self.trainer.save_states(str(tmp))
        tmp.replace(directory / TRAINER_STATES)
        if model_io.has_model(self.model_dir):
            model_io.copy_model(self.model_dir, directory / BEST_DIR)


def optimizer_settings(hp, workers: int = 1, epochs_completed: int = 0) -> dict:
    """Optimizer arguments for gluon.Trainer from the built-in's hyperparameters: the step
    schedule counts epochs of num_training_samples; a resumed job continues its schedule."""
    epoch_batches = optim.batches_per_epoch(hp.num_training_samples, hp.mini_batch_size, workers)
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

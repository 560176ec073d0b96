"""Image classification training job: hyperparameters -> data -> (warm) start -> epochs -> artifacts."""
from __future__ import annotations


from pathlib import Path

import mxnet as mx
import numpy as np

from algorithms.common import devices, optim, transfer
from algorithms.common.distributed import idle_module_step, worker_group
from algorithms.common.pipe import PipeInterrupted
from algorithms.common.early_stopping import EarlyStopping
from algorithms.common.model_store import pretrained_file
from algorithms.common.trainer import BatchTimer, EpochResult, LoopConfig, LoopState, run_epochs
from algorithms.common.job import MODEL, TRAINER_STATES, choose_start
from algorithms.image_classification import data, metrics, model_io, network
from algorithms.image_classification.hyperparameters import SCHEMA
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

LOG_EVERY_BATCHES = 20


def train(env: TrainingEnv, stop: StopSignal) -> None:
    log = get_logger()
    log.info("Reading default configuration from the algorithm's schema; reading provided configuration.")
    hp = SCHEMA.parse(env.hyperparameters)
    log.info("Final configuration: %s", hp.as_strings())
    log.info("---- Parameters ----")
    for key, value in hp.as_strings().items():
        log.info("%s: %s", key, value)
    if hp.model_prefix:
        log.info("model_prefix is accepted for compatibility and ignored: artifacts are named %s-*", model_io.PREFIX)

    job = ClassificationJob(env, hp, stop)
    job.prepare()
    job.run()


class ClassificationJob:
    def __init__(self, env: TrainingEnv, hp, stop: StopSignal):
        self.env, self.hp, self.stop = env, hp, stop
        self.log = get_logger()
        self.contexts = devices.training_contexts()
        self.log.info("Training on %s", self.contexts)
        self.group = worker_group(hp.kv_store, env.resources, len(self.contexts), devices.uses_gpu(self.contexts))
        self.kv = self.group.kv
        self.workers = self.group.size
        self.rank = self.group.rank  # 0 on host 1, which writes the model and checkpoints
        self.float16 = hp.precision_dtype == "float16" and devices.uses_gpu(self.contexts)
        if hp.precision_dtype == "float16" and not self.float16:
            self.log.info("precision_dtype=float16 needs a GPU; training in float32 on the CPU instead.")
        self.work = env.paths.work / "image-classification"
        self.model_dir = env.paths.model
        self.initial: tuple[dict, dict] | None = None
        self.transfer = False  # warm_start_mode=transfer from the model channel
        self.state = LoopState()
        self.resume_states: Path | None = None

    # ---- set-up ------------------------------------------------------------------------------
    def prepare(self) -> None:
        hp = self.hp
        self._choose_initial_weights()  # model compatibility is checked before any data is read
        # Pipe mode: SIGTERM may cut short the reading of later training epochs (validation is
        # always read whole, so every worker validates the same epochs).
        self.train_data = data.ChannelData(self.env, "train", hp, self.work, self.stop)
        self.val_data = data.ChannelData(self.env, "validation", hp, self.work)
        self.train_ds, self.val_ds = self.train_data.first, self.val_data.first
        for ds in (self.train_ds, self.val_ds):
            if ds.count < hp.mini_batch_size:
                raise ClientError(
                    f"The number of input images must be bigger or equal to the mini_batch_size: channel "
                    f"'{ds.name}' has {ds.count} images, mini_batch_size is {hp.mini_batch_size}")
        if hp.mini_batch_size % len(self.contexts):
            raise ClientError(
                f"mini_batch_size ({hp.mini_batch_size}) must be divisible by the number of devices "
                f"({len(self.contexts)})")
        self._build_module()

    def _train_iterator(self, ds: data.DataSet, epoch: int) -> mx.io.DataIter:
        part_index, num_parts = self.group.part_of(self.train_data.config)
        return data.train_iterator(ds, self.hp, self.hp.mini_batch_size, devices.cpu_threads(), epoch,
                                   part_index=part_index, num_parts=num_parts)

    def _validation_iterator(self, ds: data.DataSet) -> mx.io.DataIter:
        # Not split between workers: each validates all the data it has (its shard with
        # ShardedByS3Key), so the exact sample count is known; validate() sums over workers.
        return data.validation_iterator(ds, self.hp, self.hp.mini_batch_size, devices.cpu_threads())

    def _choose_initial_weights(self) -> None:
        """Checkpoint (a restarted job) > model channel (incremental) > pretrained > random."""
        hp = self.hp
        start = choose_start(self.env, model_io.read_saved_model, lambda saved: saved.hyperparameters(),
                             self._architecture(), hp.use_pretrained_model, hp.warm_start_mode)
        self.state, self.resume_states = start.state, start.optimizer_states
        self.transfer = start.transfer
        if start.from_saved:
            self.initial = model_io.load_params(start.saved.params)
            if start.source == MODEL:
                self.log.info("Incremental training: initialising from %s (epoch %d of the earlier job).",
                              start.saved.params.name, start.saved.epoch)
        elif hp.use_pretrained_model:
            path = pretrained_file("image-classification", {"num_layers": hp.num_layers})
            arg, aux = model_io.load_params(path)
            for name in [n for n in arg if n.startswith("fc")]:
                del arg[name]  # transfer learning: only the top layer is re-initialised
            self.initial = (arg, aux)
            self.log.info("Using pretrained model for initializing weights and transfer learning (%s).", path)

    def _architecture(self) -> dict:
        hp = self.hp
        return {"num_layers": hp.num_layers, "image_shape": hp.image_shape, "num_classes": hp.num_classes}

    def _build_module(self) -> None:
        hp = self.hp
        weighted = bool(hp.multi_label and hp.use_weighted_loss)
        if weighted:
            symbol = network.weighted_multilabel_loss(hp.num_layers, hp.num_classes)
        else:
            symbol = network.classifier(hp.num_layers, hp.num_classes, bool(hp.multi_label))
        if self.float16:
            symbol = _float16(symbol, hp)
        self.export_symbol = network.classifier(hp.num_layers, hp.num_classes, bool(hp.multi_label))
        fixed = ["class_weight"] if weighted else None
        self.module = mx.mod.Module(symbol, data_names=("data",), label_names=("softmax_label",),
                                    context=self.contexts, fixed_param_names=fixed)
        self.module.bind(*data.batch_shapes(hp, hp.mini_batch_size))
        arg, aux = self.initial if self.initial else ({}, {})
        arg = dict(arg)
        if self.transfer:
            arg, aux = self._transferable(symbol, arg, aux)
        else:
            self._check_shapes(symbol, arg, aux)
        if weighted:
            arg["class_weight"] = mx.nd.array(self._class_weights()[None, :])
        self.module.init_params(
            initializer=mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),
            arg_params=arg or None, aux_params=aux or None, allow_missing=True, force_init=True)
        epoch_batches = optim.batches_per_epoch(hp.num_training_samples, hp.mini_batch_size, self.workers)
        scheduler = optim.step_scheduler(hp.lr_scheduler_step, hp.lr_scheduler_factor, epoch_batches,
                                         hp.learning_rate)
        params = optim.optimizer_params(hp.optimizer, hp, hp.learning_rate, scheduler, rescale_grad=1.0,
                                        multi_precision=self.float16)
        params.pop("rescale_grad")  # Module sets 1/(batch × workers) itself
        params["begin_num_update"] = self.state.epochs_completed * epoch_batches
        self.module.init_optimizer(kvstore=self.kv, optimizer=hp.optimizer, optimizer_params=params)
        self.group.start_module(self.module)
        if self.resume_states is not None and not self.group.optimizer_on_servers:
            self.module.load_optimizer_states(str(self.resume_states))
        self.train_metric = metrics.build(bool(hp.multi_label), hp.top_k)
        self.val_metric = metrics.build(bool(hp.multi_label), hp.top_k)

    def _network_shapes(self, symbol: mx.sym.Symbol) -> tuple[dict, dict]:
        """The shapes of the network's arguments and auxiliary states."""
        shape = (1,) + tuple(self.hp.image_shape)
        arg_shapes, _, aux_shapes = symbol.infer_shape(data=shape, softmax_label=(1,) if not self.hp.multi_label
                                                       else (1, self.hp.num_classes))
        return (dict(zip(symbol.list_arguments(), arg_shapes)),
                dict(zip(symbol.list_auxiliary_states(), aux_shapes)))

    def _transferable(self, symbol: mx.sym.Symbol, arg: dict, aux: dict) -> tuple[dict, dict]:
        """warm_start_mode=transfer: the saved arrays whose name and shape fit; the rest is
        left to the initialiser, and the table says which."""
        expected_arg, expected_aux = self._network_shapes(symbol)
        wanted = {n: s for n, s in {**expected_arg, **expected_aux}.items()
                  if n not in ("data", "softmax_label", "class_weight")}
        saved = {name: value.shape for name, value in {**arg, **aux}.items()}
        plan = transfer.plan(saved, wanted, MODEL)
        plan.log()
        keep = set(plan.loaded)
        return ({n: v for n, v in arg.items() if n in keep and n in expected_arg},
                {n: v for n, v in aux.items() if n in keep and n in expected_aux})

    def _check_shapes(self, symbol: mx.sym.Symbol, arg: dict, aux: dict) -> None:
        """Loaded weights must fit the network exactly (apart from a re-initialised fc)."""
        if not self.initial:
            return
        expected_arg, expected_aux = self._network_shapes(symbol)
        for given, expected in ((arg, expected_arg), (aux, expected_aux)):
            for name, value in given.items():
                if name in expected and tuple(expected[name]) != value.shape:
                    raise ClientError(
                        f"Incompatible model: parameter '{name}' has shape {value.shape}, this network "
                        f"needs {tuple(expected[name])}")
        missing = [n for n in expected_arg
                   if n not in arg and not n.startswith("fc") and n not in ("data", "softmax_label")]
        if missing:
            raise ClientError(f"Incompatible model: parameters {missing[:5]} are missing from the model")

    def _class_weights(self) -> np.ndarray:
        """Weight of positive examples per class: negatives/positives (1 where a class has none)."""
        # Summed over the workers: with ShardedByS3Key each host sees only its shard.
        *positives, count = self.group.all_sum("class-weights", [*self.train_ds.positives, self.train_ds.count])
        positives = np.asarray(positives)
        negatives = count - positives
        return np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0).astype(np.float32)

    # ---- the epoch loop ---------------------------------------------------------------------
    def run(self) -> None:
        hp = self.hp
        config = LoopConfig(
            epochs=hp.epochs, objective="accuracy", checkpoint_frequency=hp.checkpoint_frequency,
            early_stopping=EarlyStopping(hp.early_stopping, hp.early_stopping_min_epochs,
                                         hp.early_stopping_patience, hp.early_stopping_tolerance),
            checkpoint_dir=self.env.checkpoint_dir if self.rank == 0 else None)
        run_epochs(self, config, self.state, self.stop)

    def train_epoch(self, epoch: int, stop: StopSignal) -> EpochResult:
        self.train_metric.reset()
        timer = BatchTimer(epoch, LOG_EVERY_BATCHES, self.hp.mini_batch_size)
        batches = self._epoch_batches(epoch)
        while True:
            batch = None if stop.requested or batches is None else next(batches, None)
            # On several hosts every worker ends the epoch at the same batch: when all of them ran
            # out of data, or one was asked to stop (then stop.requested is set on all).
            if not self.group.keep_going(batch is not None, stop):
                break
            timer.data_ready()
            if batch is None:  # this worker's part is done, the others' is not: no samples, no gradient
                idle_module_step(self.module)
                timer.batch_done(0)
                continue
            self.module.forward_backward(batch)
            self.module.update()
            metrics.update_trimmed(self.train_metric, batch.label, self.module.get_outputs(), batch.pad)
            # MXNet runs asynchronously: without this wait the backward/update still running would
            # be counted as "data wait" at the next batch. The record iterator's prefetch threads keep
            # decoding meanwhile, so the wait costs no throughput.
            mx.nd.waitall()
            timer.batch_done(batch.data[0].shape[0] - batch.pad, extra="\t" + _format(self.train_metric))
        interrupted = stop.requested
        self.group.sync_batchnorm_statistics(self.module)
        values = dict(self.train_metric.get_name_value())
        result = timer.result(values, interrupted)
        if not interrupted:
            for name, value in values.items():
                self.log.info("Epoch[%d] Train-%s=%f", epoch, name, value)
            self.log.info("Epoch[%d] Time cost=%.3f", epoch, result.wall)
            self.log.info("Epoch[%d] Throughput=%.2f samples/sec (data wait %.3fs, compute %.3fs)",
                          epoch, result.throughput, result.data_wait, result.compute)
        return result

    def _epoch_batches(self, epoch: int):
        """This epoch's training batches (a new iterator, see data.train_iterator); None when
        SIGTERM cut short reading a Pipe-mode epoch."""
        try:
            self.train_ds = self.train_data.next_epoch()  # Pipe mode: a new file every epoch
        except PipeInterrupted:
            return None
        return iter(self._train_iterator(self.train_ds, epoch))

    def validate(self, epoch: int) -> dict[str, float]:
        self.val_ds = self.val_data.next_epoch()
        self.val_metric.reset()
        for batch in self._validation_iterator(self.val_ds):
            self.module.forward(batch, is_train=False)
            metrics.update_trimmed(self.val_metric, batch.label, self.module.get_outputs(), batch.pad)
        # Several hosts: the accuracy over every worker's part, and a SIGTERM seen by any worker
        # is seen by all, so early stopping, best-model and stop decisions agree.
        self.group.sum_metric(self.val_metric, "validation")
        self.group.share_stop(self.stop)
        values = dict(self.val_metric.get_name_value())
        for name, value in values.items():
            self.log.info("Epoch[%d] Validation-%s=%f", epoch, name, value)
        return values

    def save_model(self, epoch: int, reason: str) -> None:
        if self.rank != 0:
            return
        if reason == "best":
            self.log.info("Storing the best model with validation accuracy: %f", self.state.best_score or 0.0)
        # Keep only the best epoch, as the built-in does without checkpoint_frequency.
        path = self._export(self.model_dir, epoch + 1, keep_others=reason != "best")
        self.log.info('Saved checkpoint to "%s"', path)

    def save_checkpoint(self, directory: Path, state: LoopState) -> None:
        self._export(directory, max(state.epochs_completed, 1), keep_others=False)
        if self.group.optimizer_on_servers:
            return  # dist_async keeps the optimizer state on the parameter servers; a resume restarts it
        tmp = directory / f"{TRAINER_STATES}.tmp"
        self.module.save_optimizer_states(str(tmp))
        tmp.replace(directory / TRAINER_STATES)

    def _export(self, directory: Path, epoch: int, keep_others: bool) -> Path:
        """The artifacts for `epoch` (1-based); other epochs' params are removed only once the new
        file is complete, so a kill in between never leaves a folder without a model."""
        arg, aux = self._params()
        path = model_io.export(directory, self.export_symbol, arg, aux, epoch,
                               (self.hp.mini_batch_size,) + tuple(self.hp.image_shape))
        if not keep_others:
            for old in model_io.params_files(directory).values():
                if old != path:
                    old.unlink()
        return path

    def _params(self) -> tuple[dict, dict]:
        arg, aux = self.module.get_params()
        arg = {k: v for k, v in arg.items() if k != "class_weight"}
        return arg, aux


def _format(metric) -> str:
    return "\t".join(f"{name}={value:f}" for name, value in metric.get_name_value())


def _float16(symbol: mx.sym.Symbol, hp) -> mx.sym.Symbol:
    """Run the network body in float16 on GPUs; the head and the loss stay float32."""
    data = mx.sym.Cast(mx.sym.Variable("data"), dtype="float16")
    with mx.name.NameManager():
        body = network.features(hp.num_layers, data)
        fc = mx.sym.FullyConnected(data=body, num_hidden=hp.num_classes, name="fc")
        fc = mx.sym.Cast(fc, dtype="float32")
        if hp.multi_label:
            return mx.sym.LogisticRegressionOutput(data=fc, name="softmax")
        return mx.sym.SoftmaxOutput(data=fc, name="softmax")



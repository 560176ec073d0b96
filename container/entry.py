"""`python -m container train|serve`: a training job, or an inference server, under the SageMaker contract."""
from __future__ import annotations

import os
import sys
import traceback

from container.config import TrainingEnv
from container.errors import ClientError, failure_message, write_failure
from container.launcher import Launcher, is_worker
from container.logs import setup_logging
from container.paths import MLPaths
from container.registry import algorithm_name, check_host_count, load_serve, load_train
from container.stop import StopSignal


def train(environ: dict[str, str] | None = None) -> int:
    """Returns the process exit code: 0 on success (also after a graceful stop), else 1 or 2."""
    log = setup_logging()
    paths = MLPaths.from_env(environ)
    stop = StopSignal().install()
    log.info("Docker entrypoint called with argument(s): train")
    try:
        name = algorithm_name(environ)
        env = TrainingEnv.read(paths)
        check_host_count(name, env.resources)
        paths.model.mkdir(parents=True, exist_ok=True)
        paths.output_data.mkdir(parents=True, exist_ok=True)
        if env.resources.is_distributed and not is_worker(os.environ if environ is None else environ):
            # This process only launches and watches; the worker it starts trains and
            # reports success or failure itself.
            return Launcher(env.resources, paths.base, dict(environ or {}), stop).run()
        load_train(name)(env, stop)
    except ClientError as exc:
        log.error("Customer Error: %s", exc)
        write_failure(paths.failure, failure_message(exc))
        return 2
    except Exception as exc:  # noqa: BLE001 - every internal error must reach the failure file
        log.error("Algorithm Error: %s\n%s", exc, traceback.format_exc())
        write_failure(paths.failure, failure_message(exc))
        return 1
    paths.success.parent.mkdir(parents=True, exist_ok=True)
    paths.success.touch()
    log.info("Training finished%s.", " (stopped early by SIGTERM)" if stop.requested else "")
    return 0


def serve(environ: dict[str, str] | None = None) -> int:
    """Serve /opt/ml/model until SIGTERM; returns the exit code (non-zero when it cannot start)."""
    from container.serve import ServeConfig, run_server

    log = setup_logging()
    log.info("Docker entrypoint called with argument(s): serve")
    try:
        name = algorithm_name(environ)
        config = ServeConfig.from_env(environ)
    except ClientError as exc:
        log.error("Customer Error: %s", exc)
        return 2
    # The algorithm's module is imported in each worker, after gunicorn's fork (see container.serve).
    return run_server(config, lambda cfg: load_serve(name)(cfg.model_dir, batch=cfg.batch))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("train", "serve"):
        print("usage: python -m container train|serve", file=sys.stderr)
        return 64
    if args[0] == "serve":
        return serve()
    code = train()
    if code != 0 and is_worker(os.environ):
        # A failed distributed worker leaves at once: MXNet's exit barrier would wait for the
        # other workers, which are still training (their launchers end them).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code

"""Part of a model: warm_start_mode=transfer loads every saved parameter whose name and shape fit
this job's network and leaves the rest to the initialiser (a new classifier head, new class
predictors, a new last layer for another num_classes).

The plan is computed from names and shapes only, so each algorithm's loader calls `plan` with
what the file holds and what its network needs, loads `plan.loaded` and logs `plan.table()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from algorithms.common.schema import Param, parse_str
from container.errors import ClientError
from container.logs import get_logger

STRICT = "strict"
TRANSFER = "transfer"
MODES = (STRICT, TRANSFER)
# The architecture keys a transfer may change: the parameters they shape are re-initialised.
RELAXED_KEYS = ("num_classes",)

WARM_START_MODE = Param(
    "warm_start_mode", parse_str, STRICT,
    "How the model channel's weights are used: strict (every parameter, num_classes must match) or "
    "transfer (parameters whose name and shape fit; the rest, e.g. the class layer, re-initialised)",
    choices=MODES)

Shape = tuple[int, ...]


def fits(wanted: Shape, saved: Shape) -> bool:
    """Same shape; a 0 in `wanted` is a dimension Gluon has not inferred yet and fits any size."""
    return len(wanted) == len(saved) and all(w in (0, s) for w, s in zip(wanted, saved))


@dataclass
class TransferPlan:
    loaded: list[str] = field(default_factory=list)        # name and shape fit: taken from the file
    reinitialised: list[str] = field(default_factory=list)  # not in the file: initialiser
    mismatched: dict[str, tuple[Shape, Shape]] = field(default_factory=dict)  # name fits, shape not: initialiser
    ignored: list[str] = field(default_factory=list)        # in the file, not in this network

    def table(self) -> list[str]:
        """The log lines: counts, then every parameter that is not loaded, with its reason."""
        lines = [f"warm_start_mode=transfer: {len(self.loaded)} loaded, "
                 f"{len(self.reinitialised) + len(self.mismatched)} re-initialised, {len(self.ignored)} ignored",
                 f"{'parameter':<48} {'action':<15} detail"]
        lines += [f"{name:<48} {'re-initialised':<15} shape {_shape(saved)} in the model, this network needs "
                  f"{_shape(wanted)}" for name, (wanted, saved) in self.mismatched.items()]
        lines += [f"{name:<48} {'re-initialised':<15} not in the model" for name in self.reinitialised]
        lines += [f"{name:<48} {'ignored':<15} not in this network" for name in self.ignored]
        return lines

    def log(self) -> None:
        log = get_logger()
        for line in self.table():
            log.info(line)


def plan(saved: dict[str, Shape], wanted: dict[str, Shape], source: str) -> TransferPlan:
    """Which of `wanted` (this network's parameters) come from `saved` (the file's). A file
    sharing no parameter with this network is another network's: a ClientError, not a random start."""
    result = TransferPlan()
    for name, shape in wanted.items():
        if name not in saved:
            result.reinitialised.append(name)
        elif fits(tuple(shape), tuple(saved[name])):
            result.loaded.append(name)
        else:
            result.mismatched[name] = (tuple(shape), tuple(saved[name]))
    result.ignored = [name for name in saved if name not in wanted]
    if not result.loaded:
        raise ClientError(
            f"warm_start_mode=transfer: no parameter of the model in {source} fits this network "
            f"(it holds e.g. {sorted(saved)[:3]}, this network needs e.g. {sorted(wanted)[:3]}); expected a "
            f"model of this algorithm with the same base network / layers")
    return result


def _shape(shape: Shape) -> str:
    return "x".join(str(n) for n in shape) or "scalar"

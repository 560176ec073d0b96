"""Early stopping on a validation objective, with the built-ins' min-epochs/patience/tolerance."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EarlyStopping:
    enabled: bool
    min_epochs: int
    patience: int
    tolerance: float
    best: float | None = None
    epochs_without_improvement: int = 0

    def improved(self, value: float) -> bool:
        """Record one epoch's objective; True when it beats the best by the relative tolerance."""
        if self.best is None:
            better = True
        elif self.best <= 0:
            better = value > self.best
        else:
            better = (value - self.best) / self.best > self.tolerance
        if better:
            self.best = value
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return better

    def should_stop(self, epochs_done: int) -> bool:
        return (self.enabled and epochs_done >= self.min_epochs
                and self.epochs_without_improvement >= self.patience)

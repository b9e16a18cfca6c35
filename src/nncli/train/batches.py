"""How this process trains on an epoch's batches: alone, on each whole batch; or, data-parallel
under torchrun, on its shard of each, with the gradients summed over the ranks in the step.

Both give `engine.fit` one surface: whether to stop before a step, the step, prediction, and
the outputs of a run of steps in the epoch's order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nncli.train.parallel import DataParallel, GradientSync
from nncli.train.steps import Step


class WholeBatches:
    """One process: every step trains on the whole batch."""

    def __init__(self, step: Step):
        self.step = step
        self.targets = step.targets
        self.predict = step.predict

    def stopping(self, should_stop: Callable[[], bool] | None) -> bool:
        """Whether to stop before the next step: when asked to."""
        return should_stop is not None and should_stop()

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, probe: torch.Tensor | None
    ) -> torch.Tensor:
        return self.step(x, y, probe)

    def gathered(self, local: list[torch.Tensor], start: int, stop: int) -> list[torch.Tensor]:
        """The outputs of steps [start, stop): this process's own."""
        return local


class ShardedBatches:
    """Data-parallel: each rank trains its shard of every batch; the step sums the gradients
    (and the stop flags) over the ranks through `sync` before it updates, so every rank holds
    the same parameters and stops at the same step."""

    def __init__(
        self, step: Step, group: DataParallel, sync: GradientSync, n: int, batch: int, k: int
    ):
        self.step, self.group, self.sync = step, group, sync
        self.n, self.batch = n, batch  # rows of the epoch, rows of a whole batch
        self.rows_axis = 0 if k == 1 else 1  # of the targets: one model's are (B,) or (B, C)
        self.targets = step.targets
        self.predict = _shared_predict(step.predict, group)

    def stopping(self, should_stop: Callable[[], bool] | None) -> bool:
        """Whether to stop before the next step: when any rank was asked to during the last.
        This rank's own request travels with the next step's gradients."""
        if self.sync.stop_agreed:
            return True
        self.sync.stop_requested = should_stop is not None and should_stop()
        return False

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, probe: torch.Tensor | None
    ) -> torch.Tensor:
        """This rank's shard of the batch x, y; its loss is its part of the whole batch's mean."""
        lo, hi = self.group.bounds(x.shape[-2])
        shard = y.narrow(self.rows_axis, lo, hi - lo)
        return self.step(x[..., lo:hi, :], shard, probe, self.step.denominator(y))

    def gathered(self, local: list[torch.Tensor], start: int, stop: int) -> list[torch.Tensor]:
        """Every rank's outputs of steps [start, stop) (this rank's are `local`), in the
        epoch's order."""
        if stop <= start:
            return local
        rows = self.group.batch_rows(self.n, self.batch, start, stop)
        return [self.group.gather_rows(torch.cat(local, dim=-2), rows)]


def _shared_predict(predict: Callable, group: DataParallel) -> Callable:
    """Each rank predicts its share of the rows and every rank gets all of them, in order."""

    def shared(x: torch.Tensor) -> torch.Tensor:
        lo, hi = group.bounds(len(x))
        return group.gather_rows(predict(x[lo:hi]), group.split_rows(len(x)))

    return shared

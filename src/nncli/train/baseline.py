"""What a model that ignores its inputs scores: the baseline every score stands beside."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nncli.data.preprocessing import SPLITS
from nncli.metrics import DETAILS, classification_metrics, regression_metrics
from nncli.tasks import TASKS

if TYPE_CHECKING:
    from nncli.data.prepared import PreparedData


def baseline_metrics(prepared: PreparedData, positive: int = 1) -> dict[str, dict]:
    """What a model that ignores its inputs scores on each split: the training split's class
    shares as its probabilities (so it always answers the majority class), or the training
    mean; split -> metric -> value, scored by the metric registry."""
    y_train = prepared.raw["train"][1]
    found = {}
    for split in (s for s in SPLITS if s in prepared.raw):
        y = prepared.raw[split][1]
        if TASKS[prepared.task].classes:
            n = len(prepared.dataset.classes or [])
            shares = np.bincount(y_train.astype(np.int64), minlength=n) / len(y_train)  # (C,)
            scores = classification_metrics(
                y.astype(np.int64), np.tile(shares, (len(y), 1)), n, positive
            )
        else:
            scores = regression_metrics(y, np.full(len(y), float(np.mean(y_train))))
        found[split] = {k: v for k, v in scores.items() if k not in DETAILS}
    return found

"""A loaded table: typed feature cells, the target, the task and the class labels."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from nncli.config.data import DataConfig
from nncli.datasets import DATASETS
from nncli.errors import UsageError, excerpt
from nncli.tasks import TASKS

if TYPE_CHECKING:
    import pandas as pd

# CSV targets with at most this many distinct integer values are taken as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass(frozen=True)
class NumericTable:
    """A built-in set's cells: float64 numbers only, so they need no DataFrame (importing pandas
    takes a third of a second). The few parts of a DataFrame that preparing the data reads."""

    values: np.ndarray  # (N, F) float64
    columns: list[str]
    index: np.ndarray  # (N,) each row's position in the set

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    def __len__(self) -> int:
        return len(self.values)

    @property
    def iloc(self) -> _Rows:
        return _Rows(self)


@dataclass(frozen=True)
class _Rows:
    """`table.iloc[rows]`: the rows at those positions, as a table."""

    table: NumericTable

    def __getitem__(self, rows) -> NumericTable:
        t = self.table
        return NumericTable(t.values[rows], t.columns, t.index[rows])


@dataclass(frozen=True)
class Dataset:
    # (N, F) typed cells, one column per feature (as `encoding` takes them): float64, or
    # category strings from a CSV. The index is each row's line in the CSV file, or its
    # position in a built-in set, whose all-numeric cells are a NumericTable.
    features: pd.DataFrame | NumericTable
    y: np.ndarray  # (N,) class index (int64) or target value (float64)
    task: str  # a name of `tasks.TASKS`
    target_name: str
    classes: list | None  # original class labels, index-aligned with y; None for regression
    notes: tuple[str, ...] = ()  # what loading did that the user should hear: dropped rows, ...

    @property
    def feature_names(self) -> list[str]:
        return [str(name) for name in self.features.columns]


def label_value(x: float) -> int | float:
    """A numeric class label as nncli keeps and shows it: 3.0 -> 3, while 2.5 stays 2.5."""
    return int(x) if float(x).is_integer() else float(x)


def load_registered(data: DataConfig) -> Dataset:
    """A registered set; a synthetic one is drawn from `data.seed`."""
    spec = DATASETS[data.source]
    if spec.synthetic:
        X, y = spec.load(data.n_samples, data.noise, data.seed)
        classes = sorted(int(c) for c in np.unique(y)) if TASKS[spec.task].classes else None
        return Dataset(_table(X, spec.feature_names), _target(y, spec.task), spec.task, "y",
                       classes)  # fmt: skip
    bunch = spec.load()
    classes = [str(c) for c in bunch.target_names] if TASKS[spec.task].classes else None
    return Dataset(_table(bunch.data, bunch.feature_names), _target(bunch.target, spec.task),
                   spec.task, "target", classes)  # fmt: skip


def _table(X: np.ndarray, names) -> NumericTable:
    values = np.asarray(X, dtype=np.float64)
    return NumericTable(values, [str(n) for n in names], np.arange(len(values)))


def _target(y: np.ndarray, task: str) -> np.ndarray:
    return np.asarray(y, dtype=TASKS[task].target_dtype)


def with_task(dataset: Dataset, task: str) -> Dataset:
    """Apply a `data.task` override to a set whose natural task differs."""
    if task in ("auto", dataset.task):
        return dataset
    if not TASKS[task].classes:
        labels = dataset.classes or []
        if not all(isinstance(c, int | float) for c in labels):
            raise UsageError(
                "data.task: regression needs a numeric target, and the classes of"
                f" this set are labels such as {excerpt(labels[0])}"
            )
        values = np.asarray(labels, dtype=np.float64)[dataset.y]
        return replace(dataset, y=values, task=task, classes=None)
    values, index = np.unique(dataset.y, return_inverse=True)
    classes = [label_value(v) for v in values]
    return replace(dataset, y=index.astype(np.int64), task=task, classes=classes)

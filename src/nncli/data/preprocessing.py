"""Pure functions of arrays: the seeded split and the scalers fitted on the training split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nncli.config.data import SplitConfig
from nncli.errors import UsageError, excerpt

SPLITS = ("train", "val", "test")


def split_indices(
    y: np.ndarray,
    fractions: SplitConfig,
    *,
    seed: int,
    stratify: bool,
    class_names: list | None = None,
) -> dict[str, np.ndarray]:
    """Seeded train/val/test row indices, stratified by class for classification.

    `class_names` (index-aligned with the class indices in `y`) only make errors readable.
    """
    n = len(y)
    counts = _split_counts(n, fractions)
    if counts["train"] < 1:
        raise UsageError(f"data: {n} rows are too few for the split {_fractions(fractions)}")
    if stratify:
        _check_stratifiable(y, counts, fractions, class_names)
    indices = np.arange(n)
    rest_size = counts["val"] + counts["test"]
    if rest_size == 0:
        return {"train": indices}
    strata = y if stratify else None
    train, rest = _train_test_split(indices, rest_size, seed, strata)
    result = {"train": np.sort(train)}
    if counts["val"] == 0 or counts["test"] == 0:
        result["val" if counts["val"] else "test"] = np.sort(rest)
        return result
    strata = y[rest] if stratify else None
    val, test = _train_test_split(rest, counts["test"], seed, strata)
    return {"train": result["train"], "val": np.sort(val), "test": np.sort(test)}


# `_train_test_split` is scikit-learn's `train_test_split(indices, test_size=n_test,
# random_state=seed, stratify=strata)` (ShuffleSplit and StratifiedShuffleSplit._iter_indices in
# sklearn/model_selection/_split.py, `_approximate_mode` in sklearn/utils/extmath.py, 1.9),
# written out so that splitting does not import scikit-learn (over a second of start-up): the
# same draws from the same `RandomState` in the same order, so every seed splits as it did.
# tests/test_preprocessing.py compares the two. Unlike scikit-learn it does not refuse a class
# with a single row in what it splits (the val/test remainder of a small class can be one row).


def _train_test_split(
    indices: np.ndarray, n_test: int, seed: int, strata: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """`indices` split into (train, test) parts in shuffled order, `n_test` rows to test."""
    rng = np.random.RandomState(seed)
    if strata is None:
        order = rng.permutation(len(indices))
        return indices[order[n_test:]], indices[order[:n_test]]
    _, class_of, class_counts = np.unique(strata, return_inverse=True, return_counts=True)
    members = np.split(np.argsort(class_of, kind="stable"), np.cumsum(class_counts)[:-1])
    n_train = _approximate_mode(class_counts, len(indices) - n_test, rng)
    n_tests = _approximate_mode(class_counts - n_train, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for rows, to_train, to_test in zip(members, n_train, n_tests, strict=True):
        rows = rows[rng.permutation(len(rows))]
        train.extend(rows[:to_train])
        test.extend(rows[to_train : to_train + to_test])
    train_rows = rng.permutation(np.array(train, dtype=np.intp))
    test_rows = rng.permutation(np.array(test, dtype=np.intp))
    return indices[train_rows], indices[test_rows]


def _approximate_mode(
    class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState
) -> np.ndarray:
    """How many of `n_draws` rows each class gets: its share rounded down, the rows left over
    going to the largest remainders, ties drawn at random."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add_now = min(len(tied), need)
            floored[rng.choice(tied, size=add_now, replace=False)] += 1
            need -= add_now
            if need == 0:
                break
    return floored.astype(int)


def _split_counts(n: int, fractions: SplitConfig) -> dict[str, int]:
    test = round(n * fractions.test)
    val = round(n * fractions.val)
    if fractions.test > 0:
        test = max(test, 1)
    if fractions.val > 0:
        val = max(val, 1)
    return {"train": n - val - test, "val": val, "test": test}


def _check_stratifiable(
    y: np.ndarray, counts: dict[str, int], fractions: SplitConfig, class_names: list | None
) -> None:
    classes, members = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise UsageError("data: the target has a single class; classification needs at least two")
    parts = sum(1 for c in counts.values() if c > 0)
    rare = [int(c) for c, m in zip(classes, members, strict=True) if m < parts]
    if rare:
        name = excerpt(class_names[rare[0]]) if class_names else f"index {rare[0]}"
        raise UsageError(
            f"data: class {name} has {int(members[classes == rare[0]][0])} row(s), too few"
            f" for a stratified {_fractions(fractions)} split (needs {parts})"
        )
    for name, size in counts.items():
        if 0 < size < len(classes):
            raise UsageError(
                f"data: the {name} split would hold {size} row(s), fewer than the"
                f" {len(classes)} classes; use more data or a larger data.split.{name}"
            )


def _fractions(fractions: SplitConfig) -> str:
    return f"{fractions.train:g}/{fractions.val:g}/{fractions.test:g}"


@dataclass(frozen=True)
class Scaler:
    """x -> (x - offset) / scale, column-wise; fitted on the training split only."""

    kind: str  # "standard" | "minmax" | "none"
    offset: np.ndarray
    scale: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.offset) / self.scale

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.offset

    def to_dict(self) -> dict:
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: dict, shape: tuple[int, ...] | None = None) -> Scaler:
        """The scaler `to_dict` saved; with `shape`, a ValueError unless it is one of that
        shape with finite offsets and positive, finite scales (as `fit_scaler` makes them)."""
        scaler = cls(
            str(data["kind"]),
            np.asarray(data["offset"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
        )
        if shape is not None:
            if scaler.kind not in ("standard", "minmax", "none"):
                raise ValueError(f"unknown scaling kind {excerpt(scaler.kind)}")
            if scaler.offset.shape != shape or scaler.scale.shape != shape:
                raise ValueError(f"offset and scale must have shape {shape}")
            finite = np.isfinite(scaler.offset).all() and np.isfinite(scaler.scale).all()
            if not (finite and (scaler.scale > 0).all()):
                raise ValueError("offsets must be finite and scales finite and positive")
        return scaler


def fit_scaler(x: np.ndarray, kind: str, *, unscaled: np.ndarray | None = None) -> Scaler:
    """Fit on (N, F) or (N,) training values; constant columns, and those marked in the (F,)
    bool `unscaled` (one-hot inputs), keep an offset of 0 and a scale of 1."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, naming the column
        if kind == "standard":
            offset, scale = x.mean(axis=0), x.std(axis=0)
        elif kind == "minmax":
            offset, scale = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
        else:
            offset, scale = np.zeros(x.shape[1:]), np.ones(x.shape[1:])
        scale = np.where(scale > 1e-12, scale, 1.0)
        if unscaled is not None:
            offset, scale = np.where(unscaled, 0.0, offset), np.where(unscaled, 1.0, scale)
    overflowed = ~(np.isfinite(offset) & np.isfinite(scale))
    if overflowed.any():
        what = "the target" if x.ndim == 1 else f"feature column {int(np.argmax(overflowed)) + 1}"
        raise UsageError(f"data: {what} holds values too large to scale; rescale it")
    return Scaler(kind, np.asarray(offset, dtype=np.float64), np.asarray(scale, dtype=np.float64))

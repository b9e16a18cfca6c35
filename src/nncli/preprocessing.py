"""Pure functions of arrays: the seeded split and the scalers fitted on the training split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nncli.config import SplitConfig
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
    from sklearn.model_selection import train_test_split

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
    train, rest = train_test_split(indices, test_size=rest_size, random_state=seed, stratify=strata)
    result = {"train": np.sort(train)}
    if counts["val"] == 0 or counts["test"] == 0:
        result["val" if counts["val"] else "test"] = np.sort(rest)
        return result
    strata = y[rest] if stratify else None
    val, test = train_test_split(rest, test_size=counts["test"], random_state=seed, stratify=strata)
    return {"train": result["train"], "val": np.sort(val), "test": np.sort(test)}


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

"""The one registry of datasets (synthetic and scikit-learn's bundled sets) plus CSV loading."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli.config import DataConfig, looks_like_path
from nncli.errors import UsageError, excerpt

# CSV targets with at most this many distinct integer values are taken as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray  # (N, F) float64
    y: np.ndarray  # (N,) class index (int64) or target value (float64)
    task: str  # "classification" | "regression"
    feature_names: list[str]
    target_name: str
    classes: list | None  # original class labels, index-aligned with y; None for regression


@dataclass(frozen=True)
class DatasetSpec:
    load: Callable[[int, float, int], tuple[np.ndarray, np.ndarray]] | Callable[[], object]
    task: str
    description: str
    synthetic: bool
    default_samples: int = 0
    default_noise: float = 0.0
    feature_names: tuple[str, ...] = ("x1", "x2")


def _xor(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    pick = np.arange(n) % 4  # every corner equally often; n=4, noise=0 is the classic table
    X = corners[pick] + rng.normal(0.0, noise, size=(n, 2))
    y = (corners[pick, 0] != corners[pick, 1]).astype(np.int64)
    order = rng.permutation(n)
    return X[order], y[order]


def _moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=noise, random_state=seed)


def _circles(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)


def _blobs(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n, centers=3, cluster_std=noise, random_state=seed)


def _spiral(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms, as in TensorFlow Playground."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = rng.uniform(0.0, 1.0, size=n)
    radius = 5.0 * t
    angle = 1.75 * t * 2 * np.pi + np.pi * y
    X = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    X += rng.normal(0.0, noise, size=X.shape)
    return X, y.astype(np.int64)


def _sine(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """y = sin(x) on [-pi, pi]: a 1-D function to approximate (and to extrapolate badly)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=n)
    return x[:, None], np.sin(x) + rng.normal(0.0, noise, size=n)


def _bundled(name: str) -> Callable[[], object]:
    def load() -> object:
        import sklearn.datasets

        return getattr(sklearn.datasets, f"load_{name}")()

    return load


def _synthetic(make, task: str, about: str, n: int, noise: float, features=("x1", "x2")):
    return DatasetSpec(make, task, about, True, n, noise, tuple(features))


def _sklearn(name: str, task: str, about: str) -> DatasetSpec:
    return DatasetSpec(_bundled(name), task, about, False)


C, R = "classification", "regression"
DATASETS: dict[str, DatasetSpec] = {
    "xor": _synthetic(_xor, C, "XOR of two inputs, the perceptron's nemesis", 400, 0.15),
    "moons": _synthetic(_moons, C, "two interleaving half circles", 1000, 0.2),
    "circles": _synthetic(_circles, C, "a circle inside a circle", 1000, 0.1),
    "blobs": _synthetic(_blobs, C, "three Gaussian clusters", 1000, 1.5),
    "spiral": _synthetic(_spiral, C, "two interleaved spiral arms", 1000, 0.2),
    "sine": _synthetic(_sine, R, "y = sin(x) + noise on [-pi, pi]", 500, 0.05, ("x",)),
    "iris": _sklearn("iris", C, "150 iris flowers, 3 species"),
    "wine": _sklearn("wine", C, "178 wines, 3 cultivars"),
    "breast_cancer": _sklearn("breast_cancer", C, "569 tumours, malignant or benign"),
    "digits": _sklearn("digits", C, "1797 8x8 handwritten digits"),
    "diabetes": _sklearn("diabetes", R, "442 patients, disease progression after a year"),
}


def describe_source(data: DataConfig) -> DataConfig:
    """Fill a synthetic set's default sample count and noise into the config; check the source."""
    if looks_like_path(data.source):
        for field in ("n_samples", "noise"):
            if getattr(data, field) is not None:
                raise UsageError(f"data.{field}: applies to synthetic sets only, not CSV files")
        if data.target is None:
            raise UsageError("data.target: required for a CSV source (the column to predict)")
        if data.target in data.ignore_columns:
            raise UsageError(f"data.ignore_columns: {excerpt(data.target)} is the target")
        return data
    spec = DATASETS.get(data.source)
    if spec is None:
        from nncli.config import unknown_name

        raise UsageError(
            f"data.source: {unknown_name('dataset', data.source, DATASETS)}"
            " (or a path to a .csv file)"
        )
    if data.target is not None or data.ignore_columns:
        field = "target" if data.target is not None else "ignore_columns"
        raise UsageError(f"data.{field}: applies to CSV files only")
    if not spec.synthetic:
        for field in ("n_samples", "noise"):
            if getattr(data, field) is not None:
                raise UsageError(
                    f"data.{field}: applies to synthetic sets only, not '{data.source}'"
                )
        return data
    return data.model_copy(update={
        "n_samples": spec.default_samples if data.n_samples is None else data.n_samples,
        "noise": spec.default_noise if data.noise is None else data.noise,
    })  # fmt: skip


def load_dataset(data: DataConfig) -> Dataset:
    """Load the data a (resolved) data section names, with the task settled."""
    if looks_like_path(data.source):
        from nncli.csvdata import read_csv_dataset

        dataset = read_csv_dataset(
            Path(data.source), data.target or "", data.task, data.ignore_columns
        )
    else:
        dataset = _load_registered(data)
    return _with_task(dataset, data.task)


def _load_registered(data: DataConfig) -> Dataset:
    spec = DATASETS[data.source]
    if spec.synthetic:
        X, y = spec.load(data.n_samples, data.noise, data.seed)
        classes = sorted(int(c) for c in np.unique(y)) if spec.task == "classification" else None
        return Dataset(np.asarray(X, dtype=np.float64), _target(y, spec.task), spec.task,
                       list(spec.feature_names), "y", classes)  # fmt: skip
    bunch = spec.load()
    names = [str(n) for n in bunch.feature_names]
    classes = [str(c) for c in bunch.target_names] if spec.task == "classification" else None
    return Dataset(np.asarray(bunch.data, dtype=np.float64), _target(bunch.target, spec.task),
                   spec.task, names, "target", classes)  # fmt: skip


def _target(y: np.ndarray, task: str) -> np.ndarray:
    return np.asarray(y, dtype=np.int64 if task == "classification" else np.float64)


def _with_task(dataset: Dataset, task: str) -> Dataset:
    """Apply a `data.task` override to a set whose natural task differs."""
    if task in ("auto", dataset.task):
        return dataset
    if task == "regression":
        labels = dataset.classes or []
        if not all(isinstance(c, int | float) for c in labels):
            raise UsageError(
                "data.task: regression needs a numeric target, and the classes of"
                f" this set are labels such as {excerpt(labels[0])}"
            )
        values = np.asarray(labels, dtype=np.float64)[dataset.y]
        return Dataset(dataset.X, values, "regression", dataset.feature_names,
                       dataset.target_name, None)  # fmt: skip
    values, index = np.unique(dataset.y, return_inverse=True)
    classes = [int(v) if float(v).is_integer() else float(v) for v in values]
    return Dataset(dataset.X, index.astype(np.int64), "classification", dataset.feature_names,
                   dataset.target_name, classes)  # fmt: skip

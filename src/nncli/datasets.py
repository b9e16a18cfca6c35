"""The one registry of built-in datasets: synthetic generators and scikit-learn's bundled sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from nncli.config.schema import DataConfig
from nncli.errors import UsageError, excerpt

# CSV targets with at most this many distinct integer values are taken as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass(frozen=True)
class Dataset:
    # (N, F) typed cells, one column per feature (as `encoding` takes them): float64, or
    # category strings from a CSV. The index is each row's line in the CSV file, or its
    # position in a built-in set.
    features: pd.DataFrame
    y: np.ndarray  # (N,) class index (int64) or target value (float64)
    task: str  # "classification" | "regression"
    target_name: str
    classes: list | None  # original class labels, index-aligned with y; None for regression
    notes: tuple[str, ...] = ()  # what loading did that the user should hear: dropped rows, ...

    @property
    def feature_names(self) -> list[str]:
        return [str(name) for name in self.features.columns]


def label_value(x: float) -> int | float:
    """A numeric class label as nncli keeps and shows it: 3.0 -> 3, while 2.5 stays 2.5."""
    return int(x) if float(x).is_integer() else float(x)


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


# moons, circles and blobs are scikit-learn's `make_moons`, `make_circles` and `make_blobs`
# (sklearn/datasets/_samples_generator.py, 1.9), written out so that a built-in set does not
# import scikit-learn (over a second of start-up): the same arrays for the same seed, because
# every draw is made from the same `RandomState` in the same order, `sklearn.utils.shuffle`'s
# included. tests/test_datasets.py compares them bit for bit.


def _moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    outer, inner = np.linspace(0, np.pi, n // 2), np.linspace(0, np.pi, n - n // 2)
    X = np.vstack(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),  # the unit circle's top half
            np.column_stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5]),  # upside down
        ]
    )
    return _shuffled_with_noise(X, n // 2, noise, seed)


def _circles(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # endpoint=False: a circle's first point is not also its last
    outer = np.linspace(0, 2 * np.pi, n // 2, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n - n // 2, endpoint=False)
    X = np.vstack(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),
            np.column_stack([np.cos(inner) * 0.5, np.sin(inner) * 0.5]),  # make_circles' factor
        ]
    )
    return _shuffled_with_noise(X, n // 2, noise, seed)


def _shuffled_with_noise(
    X: np.ndarray, n_first: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """X's first `n_first` rows are class 0, the rest class 1: shuffled, then Gaussian noise."""
    rng = np.random.RandomState(seed)
    y = (np.arange(len(X)) >= n_first).astype(np.intp)
    X, y = _shuffle(X, y, rng)
    return X + rng.normal(scale=noise, size=X.shape), y


def _shuffle(
    X: np.ndarray, y: np.ndarray, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """`sklearn.utils.shuffle(X, y, random_state=rng)`."""
    order = np.arange(len(y))
    rng.shuffle(order)
    return X[order], y[order]


def _blobs(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters of standard deviation `noise` about centres drawn uniformly in
    [-10, 10]^2; the first `n % 3` clusters have one point more."""
    rng = np.random.RandomState(seed)
    n_centers, n_features = 3, 2
    centers = rng.uniform(-10.0, 10.0, size=(n_centers, n_features))
    sizes = [n // n_centers + (i < n % n_centers) for i in range(n_centers)]
    X = np.vstack(
        [
            rng.normal(loc=centre, scale=noise, size=(size, n_features))
            for centre, size in zip(centers, sizes, strict=True)
        ]
    )  # (N, 2), cluster by cluster
    y = np.repeat(np.arange(n_centers), sizes)
    return _shuffle(X, y, rng)


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


def load_registered(data: DataConfig) -> Dataset:
    """A registered set; a synthetic one is drawn from `data.seed`."""
    spec = DATASETS[data.source]
    if spec.synthetic:
        X, y = spec.load(data.n_samples, data.noise, data.seed)
        classes = sorted(int(c) for c in np.unique(y)) if spec.task == "classification" else None
        return Dataset(_table(X, spec.feature_names), _target(y, spec.task), spec.task, "y",
                       classes)  # fmt: skip
    bunch = spec.load()
    classes = [str(c) for c in bunch.target_names] if spec.task == "classification" else None
    return Dataset(_table(bunch.data, bunch.feature_names), _target(bunch.target, spec.task),
                   spec.task, "target", classes)  # fmt: skip


def _table(X: np.ndarray, names) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(X, dtype=np.float64), columns=[str(n) for n in names])


def _target(y: np.ndarray, task: str) -> np.ndarray:
    return np.asarray(y, dtype=np.int64 if task == "classification" else np.float64)


def with_task(dataset: Dataset, task: str) -> Dataset:
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
        return replace(dataset, y=values, task="regression", classes=None)
    values, index = np.unique(dataset.y, return_inverse=True)
    classes = [label_value(v) for v in values]
    return replace(dataset, y=index.astype(np.int64), task="classification", classes=classes)

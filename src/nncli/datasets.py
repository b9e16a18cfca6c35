"""The one registry of built-in datasets: synthetic generators and scikit-learn's bundled sets.

A leaf: the registry imports nothing heavy (each generator imports numpy when it runs), so the
config schema can check a source name without numpy, pandas or torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported by each generator: the registry alone needs no numpy

from nncli.tasks import CLASSIFICATION, REGRESSION


@dataclass(frozen=True)
class DatasetSpec:
    load: Callable[[int, float, int], tuple[np.ndarray, np.ndarray]] | Callable[[], object]
    task: str  # a name of `tasks.TASKS`
    description: str
    synthetic: bool
    default_samples: int = 0
    default_noise: float = 0.0
    feature_names: tuple[str, ...] = ("x1", "x2")


def _xor(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

    rng = np.random.RandomState(seed)
    y = (np.arange(len(X)) >= n_first).astype(np.intp)
    X, y = _shuffle(X, y, rng)
    return X + rng.normal(scale=noise, size=X.shape), y


def _shuffle(
    X: np.ndarray, y: np.ndarray, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """`sklearn.utils.shuffle(X, y, random_state=rng)`."""
    import numpy as np

    order = np.arange(len(y))
    rng.shuffle(order)
    return X[order], y[order]


def _blobs(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters of standard deviation `noise` about centres drawn uniformly in
    [-10, 10]^2; the first `n % 3` clusters have one point more."""
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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


C, R = CLASSIFICATION, REGRESSION
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

"""The seeded split and the scalers, checked against counting by hand and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from nncli.config.data import SplitConfig
from nncli.config.fields import MAX_SEED
from nncli.data.preprocessing import SPLITS, Scaler, fit_scaler, split_indices
from nncli.errors import UsageError

DEFAULT = SplitConfig()
LABELS = np.repeat([0, 1, 2], [50, 30, 20])  # (100,) imbalanced classes


def sizes(parts: dict[str, np.ndarray]) -> dict[str, int]:
    return {name: len(parts.get(name, [])) for name in SPLITS}


# --- split_indices -----------------------------------------------------------------------------


@pytest.mark.parametrize("stratify", [True, False])
def test_split_is_a_disjoint_cover_of_every_row(stratify):
    parts = split_indices(LABELS, DEFAULT, seed=0, stratify=stratify)
    assert set(parts) == set(SPLITS)
    joined = np.concatenate([parts[name] for name in SPLITS])
    assert len(joined) == len(set(joined.tolist())) == len(LABELS)
    assert sorted(joined.tolist()) == list(range(len(LABELS)))
    for name in SPLITS:
        assert parts[name].dtype.kind == "i"
        assert np.all(np.diff(parts[name]) > 0)  # sorted, so row order is kept


@pytest.mark.parametrize(
    ("n", "fractions", "expected"),
    [
        (100, SplitConfig(), {"train": 70, "val": 15, "test": 15}),
        (101, SplitConfig(), {"train": 71, "val": 15, "test": 15}),
        (200, SplitConfig(train=0.5, val=0.25, test=0.25), {"train": 100, "val": 50, "test": 50}),
        (10, SplitConfig(train=0.9, val=0.05, test=0.05), {"train": 8, "val": 1, "test": 1}),
    ],
)
def test_split_sizes_follow_the_fractions(n, fractions, expected):
    parts = split_indices(np.linspace(0, 1, n), fractions, seed=0, stratify=False)
    assert sizes(parts) == expected


def test_split_is_deterministic_per_seed_and_differs_across_seeds():
    first = split_indices(LABELS, DEFAULT, seed=7, stratify=True)
    again = split_indices(LABELS, DEFAULT, seed=7, stratify=True)
    other = split_indices(LABELS, DEFAULT, seed=8, stratify=True)
    for name in SPLITS:
        np.testing.assert_array_equal(first[name], again[name])
    assert any(not np.array_equal(first[name], other[name]) for name in SPLITS)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "fractions",
    [DEFAULT, SplitConfig(train=0.6, val=0.2, test=0.2), SplitConfig(train=0.8, val=0.2, test=0.0)],
)
def test_stratified_split_keeps_class_proportions(seed, fractions):
    parts = split_indices(LABELS, fractions, seed=seed, stratify=True)
    totals = np.bincount(LABELS)
    for name in SPLITS:
        fraction = getattr(fractions, name)
        counts = np.bincount(LABELS[parts.get(name, np.array([], dtype=int))], minlength=3)
        assert np.all(np.abs(counts - totals * fraction) <= 1), (name, counts, totals * fraction)


@pytest.mark.parametrize(
    ("fractions", "empty"),
    [
        (SplitConfig(train=0.8, val=0.0, test=0.2), "val"),
        (SplitConfig(train=0.8, val=0.2, test=0.0), "test"),
    ],
)
@pytest.mark.parametrize("stratify", [True, False])
def test_a_zero_fraction_gives_an_empty_split(fractions, empty, stratify):
    parts = split_indices(LABELS, fractions, seed=0, stratify=stratify)
    counts = sizes(parts)
    assert counts[empty] == 0
    assert counts == {"train": 80, "val": 20 * (empty == "test"), "test": 20 * (empty == "val")}
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(len(LABELS)))


def test_train_only_split_keeps_every_row():
    parts = split_indices(LABELS, SplitConfig(train=1.0, val=0.0, test=0.0), seed=0, stratify=True)
    np.testing.assert_array_equal(parts["train"], np.arange(len(LABELS)))
    assert sizes(parts) == {"train": 100, "val": 0, "test": 0}


def test_a_class_too_rare_to_stratify_is_a_usage_error():
    y = np.array([0] * 20 + [1] * 2)  # class 1 cannot reach all three splits
    with pytest.raises(UsageError, match=r"class index 1 has 2 row\(s\), too few.*needs 3"):
        split_indices(y, DEFAULT, seed=0, stratify=True)


def test_a_split_smaller_than_the_number_of_classes_is_a_usage_error():
    y = np.arange(6) % 2
    with pytest.raises(UsageError, match=r"the val split would hold 1 row\(s\), fewer than the 2"):
        split_indices(y, DEFAULT, seed=0, stratify=True)


def test_a_single_class_is_a_usage_error():
    with pytest.raises(UsageError, match=r"single class"):
        split_indices(np.zeros(30, dtype=np.int64), DEFAULT, seed=0, stratify=True)


def test_too_few_rows_for_a_training_split_is_a_usage_error():
    with pytest.raises(UsageError, match=r"2 rows are too few for the split 0\.7/0\.15/0\.15"):
        split_indices(np.zeros(2), DEFAULT, seed=0, stratify=False)


def scikit_learn_split(y: np.ndarray, sizes: dict[str, int], seed: int, stratify: bool) -> dict:
    """What split_indices did with scikit-learn's train_test_split: train, then val/test."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(y))
    rest_size = sizes["val"] + sizes["test"]
    train, rest = train_test_split(indices, test_size=rest_size, random_state=seed,
                                   stratify=y if stratify else None)  # fmt: skip
    val, test = train_test_split(rest, test_size=sizes["test"], random_state=seed,
                                 stratify=y[rest] if stratify else None)  # fmt: skip
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def test_split_is_scikit_learns_row_for_row():
    """The split is written out (no scikit-learn import) and splits every seed as it did."""
    g = np.random.default_rng(0)
    fractions = [DEFAULT, SplitConfig(train=0.5, val=0.25, test=0.25),
                 SplitConfig(train=0.8, val=0.1, test=0.1)]  # fmt: skip
    compared = 0
    for case in range(150):
        n, n_classes = int(g.integers(30, 400)), int(g.integers(2, 6))
        y = g.choice(n_classes, size=n, p=g.dirichlet(np.full(n_classes, 3.0)))
        seed, stratify = int(g.integers(0, MAX_SEED)), case % 4 != 0
        try:
            parts = split_indices(y, fractions[case % 3], seed=seed, stratify=stratify)
            expected = scikit_learn_split(y, sizes(parts), seed, stratify)
        except UsageError:  # a class too rare for a stratified split
            continue
        except ValueError:  # scikit-learn's: one row of a class left for val/test (next test)
            continue
        for name in SPLITS:
            assert parts[name].tolist() == expected[name].tolist(), (case, name)
        compared += 1
    assert compared > 130, compared


def test_a_class_with_one_row_left_for_val_and_test_still_splits():
    """scikit-learn refuses to stratify a class of one row, which val/test's share of a small
    class can be; it goes to one of the two."""
    y = np.repeat([0, 1, 2], [7, 27, 38])
    fractions = SplitConfig(train=0.8, val=0.1, test=0.1)
    with pytest.raises(ValueError, match="only 1 member"):
        scikit_learn_split(y, {"val": 7, "test": 7}, 0, True)
    parts = split_indices(y, fractions, seed=0, stratify=True)
    counts = {name: np.bincount(y[parts[name]], minlength=3).tolist() for name in SPLITS}
    # Train's 58 rows: shares 5.64, 21.75, 30.61 rounded down, the two left over to the largest
    # remainders. Test's 7 of the [1, 5, 8] left: 0.5, 2.5, 4, the one left over to class 0 or
    # 1 (tied), here class 0.
    assert counts == {"train": [6, 22, 30], "val": [0, 3, 4], "test": [1, 2, 4]}


# --- scalers -----------------------------------------------------------------------------------


def features(seed: int = 0) -> np.ndarray:
    """(40, 4) columns on different scales, one of them constant."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 4)) * [1.0, 100.0, 1e-3, 0.0] + [0.0, -50.0, 3.0, 7.0]
    return x


@pytest.mark.parametrize(
    ("kind", "reference"), [("standard", StandardScaler), ("minmax", MinMaxScaler)]
)
def test_scaler_matches_scikit_learn(kind, reference):
    train, other = features(0), features(1)
    ours = fit_scaler(train, kind)
    theirs = reference().fit(train)
    np.testing.assert_allclose(ours.transform(train), theirs.transform(train), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.transform(other), theirs.transform(other), rtol=0, atol=1e-12)


def test_standard_scaler_gives_zero_mean_unit_variance():
    z = fit_scaler(features(), "standard").transform(features())
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, :3].std(axis=0), 1.0, atol=1e-12)


def test_minmax_scaler_maps_the_training_range_to_unit_interval():
    z = fit_scaler(features(), "minmax").transform(features())
    np.testing.assert_allclose(z[:, :3].min(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, :3].max(axis=0), 1.0, atol=1e-12)


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_constant_columns_keep_a_scale_of_one(kind):
    x = np.column_stack([np.full(10, 7.0), np.arange(10.0), np.full(10, 0.1)])
    scaler = fit_scaler(x, kind)
    assert scaler.scale[0] == 1.0
    assert scaler.scale[2] == 1.0
    assert np.isfinite(scaler.transform(x)).all()


def test_none_scaler_is_the_identity():
    x = features()
    scaler = fit_scaler(x, "none")
    np.testing.assert_array_equal(scaler.transform(x), x)
    assert scaler.offset.shape == scaler.scale.shape == (4,)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_scaler_fits_a_one_dimensional_target(kind):
    y = np.array([1.0, 3.0, 5.0, 11.0])
    scaler = fit_scaler(y, kind)
    assert scaler.offset.shape == scaler.scale.shape == ()
    reference = {"standard": StandardScaler, "minmax": MinMaxScaler}[kind]().fit(y[:, None])
    np.testing.assert_allclose(
        scaler.transform(y), reference.transform(y[:, None])[:, 0], atol=1e-12
    )


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_inverse_undoes_transform(kind):
    x = features(3)
    scaler = fit_scaler(features(2), kind)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(x)), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_scaler_round_trips_through_a_dict(kind):
    scaler = fit_scaler(features(), kind)
    data = scaler.to_dict()
    assert data["kind"] == kind
    assert all(isinstance(v, float) for v in data["offset"] + data["scale"])  # JSON-ready
    again = Scaler.from_dict(data)
    assert again.kind == kind
    np.testing.assert_array_equal(again.offset, scaler.offset)
    np.testing.assert_array_equal(again.scale, scaler.scale)
    np.testing.assert_array_equal(again.transform(features(1)), scaler.transform(features(1)))


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_values_too_large_to_scale_are_a_usage_error_naming_the_column(kind):
    x = np.array([[0.0, 1.0], [1.0, 1e308], [2.0, -1e308]])
    with pytest.raises(UsageError, match=r"^data: feature column 2 holds values too large"):
        fit_scaler(x, kind)
    with pytest.raises(UsageError, match=r"^data: the target holds values too large"):
        fit_scaler(x[:, 1], kind)

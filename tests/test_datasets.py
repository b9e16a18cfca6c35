"""The dataset registry, source checking, task overrides and CSV input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from nncli.config.data import DataConfig
from nncli.config.fields import MAX_SEED
from nncli.config.loading import validate_config
from nncli.data import csvdata
from nncli.data.dataset import MAX_INFERRED_CLASSES, Dataset, NumericTable, label_value
from nncli.data.prepared import load_dataset
from nncli.datasets import DATASETS
from nncli.errors import ConfigError, UsageError

NAMES = sorted(DATASETS)
SYNTHETIC = [name for name in NAMES if DATASETS[name].synthetic]
BUNDLED = [name for name in NAMES if not DATASETS[name].synthetic]


def load(source: str, **fields) -> Dataset:
    return load_dataset(DataConfig(source=source, **fields))


def read_csv_dataset(path: Path, target: str, task: str = "auto", **fields) -> Dataset:
    """A CSV read as a data section naming it reads it."""
    return csvdata.read_csv_dataset(
        DataConfig(source=str(path), target=target, task=task, **fields)
    )


def matrix(data: Dataset) -> np.ndarray:
    """The features of an all-numeric set as an (N, F) float64 array."""
    if isinstance(data.features, NumericTable):  # a built-in set's
        assert data.features.values.dtype == np.float64
        return data.features.values
    assert all(dtype == np.float64 for dtype in data.features.dtypes)
    return data.features.to_numpy()


def data_problems(**data) -> list[str]:
    """What validating a config with this data section reports (nothing when it is valid)."""
    try:
        validate_config({"data": data})
    except ConfigError as exc:
        return [p.removeprefix("config: ") for p in exc.problems]
    return []


def noiseless_residual(name: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How far each point lies from the set's noise-free shape, worked out from its definition."""
    if name == "xor":
        return np.concatenate([(X - np.round(X)).ravel(), y - np.logical_xor(*np.round(X).T)])
    if name == "sine":
        return y - np.sin(X[:, 0])
    if name == "moons":
        # Outer moon (class 0): unit circle about (0, 0); inner (class 1): about (1, 0.5).
        centre = np.where(y[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
        return np.linalg.norm(X - centre, axis=1) - 1.0
    if name == "circles":
        return np.linalg.norm(X, axis=1) - np.where(y == 0, 1.0, 0.5)
    if name == "blobs":
        means = np.stack([X[y == c].mean(axis=0) for c in range(3)])
        return (X - means[y]).ravel()
    if name == "spiral":
        # Arm c at parameter t in [0, 1]: radius 5t, angle 3.5 pi t + pi c, as (sin, cos).
        radius = np.linalg.norm(X, axis=1)
        angle = 1.75 * (radius / 5.0) * 2 * np.pi + np.pi * y
        on_arm = radius[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)
        return (X - on_arm).ravel()
    raise AssertionError(f"no noise-free shape written down for '{name}'; add one here")


# --- the registry ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_dataset_loads(name):
    spec = DATASETS[name]
    data = load(name, n_samples=60) if spec.synthetic else load(name)
    n = len(data.y)
    assert data.task == spec.task
    X = matrix(data)
    assert X.ndim == 2 and X.shape[0] == n > 0
    assert np.isfinite(X).all()
    assert len(data.feature_names) == X.shape[1]
    assert data.features.index.tolist() == list(range(n))  # positions
    assert spec.description
    if spec.task == "classification":
        assert data.y.dtype == np.int64
        assert data.classes is not None and len(data.classes) >= 2
        assert set(np.unique(data.y)) == set(range(len(data.classes)))
    else:
        assert data.y.dtype == np.float64
        assert np.isfinite(data.y).all()
        assert data.classes is None


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_sets_match_scikit_learn(name):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    data = load(name)
    np.testing.assert_array_equal(matrix(data), bunch.data)
    np.testing.assert_array_equal(data.y, bunch.target)
    assert data.feature_names == [str(f) for f in bunch.feature_names]
    if data.task == "classification":
        assert data.classes == [str(c) for c in bunch.target_names]


def scikit_learn_twin(name: str, n: int, noise: float, seed: int):
    import sklearn.datasets as skd

    if name == "moons":
        return skd.make_moons(n_samples=n, noise=noise, random_state=seed)
    if name == "circles":
        return skd.make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    return skd.make_blobs(n_samples=n, centers=3, cluster_std=noise, random_state=seed)


@pytest.mark.parametrize("name", ["moons", "circles", "blobs"])
@pytest.mark.parametrize(
    ("n", "noise", "seed"),
    [
        (1000, None, 0),
        (4, 0.2, 0),
        (5, 0.0, 1),
        (7, 0.3, 5),
        (101, 1.5, 12345),
        (60, 0.1, MAX_SEED),
    ],
)
def test_scikit_learn_shapes_are_its_arrays_bit_for_bit(name, n, noise, seed):
    """numpy re-implementations, so that training on them never imports scikit-learn."""
    noise = DATASETS[name].default_noise if noise is None else noise
    data = load(name, n_samples=n, noise=noise, seed=seed)
    X, y = scikit_learn_twin(name, n, noise, seed)
    assert matrix(data).tobytes() == X.tobytes()
    assert data.y.tobytes() == y.astype(np.int64).tobytes()


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_sets_take_their_default_size(name):
    assert len(load(name).y) == DATASETS[name].default_samples


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_sets_honour_n_samples(name):
    data = load(name, n_samples=37)
    assert matrix(data).shape[0] == len(data.y) == 37


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_sets_are_deterministic_per_seed(name):
    first, again = load(name, n_samples=50, seed=5), load(name, n_samples=50, seed=5)
    np.testing.assert_array_equal(matrix(first), matrix(again))
    np.testing.assert_array_equal(first.y, again.y)
    other = load(name, n_samples=50, seed=6)
    assert not np.array_equal(matrix(first), matrix(other))


@pytest.mark.parametrize("name", SYNTHETIC)
def test_noise_zero_puts_every_point_on_the_noise_free_shape(name):
    data = load(name, n_samples=200, noise=0.0, seed=1)
    np.testing.assert_allclose(noiseless_residual(name, matrix(data), data.y), 0.0, atol=1e-9)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_more_noise_moves_points_further_from_the_shape(name):
    def spread(noise: float) -> float:
        data = load(name, n_samples=400, noise=noise, seed=1)
        return float(np.std(noiseless_residual(name, matrix(data), data.y)))

    quiet, loud = spread(0.02), spread(0.1)
    assert 0 < quiet < loud


@pytest.mark.parametrize(("name", "noise"), [("xor", 0.1), ("sine", 0.3)])
def test_additive_noise_has_the_configured_standard_deviation(name, noise):
    data = load(name, n_samples=4000, noise=noise, seed=2)
    residual = noiseless_residual(name, matrix(data), data.y)
    if name == "xor":
        residual = residual[: matrix(data).size]  # the coordinate offsets, not the label check
    assert np.std(residual) == pytest.approx(noise, rel=0.05)


def test_xor_with_four_samples_and_no_noise_is_the_truth_table():
    data = load("xor", n_samples=4, noise=0.0)
    rows = sorted(zip(map(tuple, matrix(data).tolist()), data.y.tolist(), strict=True))
    assert rows == [((0.0, 0.0), 0), ((0.0, 1.0), 1), ((1.0, 0.0), 1), ((1.0, 1.0), 0)]
    assert data.classes == [0, 1]


# --- which data fields apply to which source (checked when the config is validated) ---------


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_defaults_are_filled_in(name):
    spec = DATASETS[name]
    filled = DataConfig(source=name)
    assert (filled.n_samples, filled.noise) == (spec.default_samples, spec.default_noise)
    kept = DataConfig(source=name, n_samples=12, noise=0.0)
    assert (kept.n_samples, kept.noise) == (12, 0.0)


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("field", [{"n_samples": 100}, {"noise": 0.1}])
def test_bundled_sets_refuse_synthetic_options(name, field):
    (key,) = field
    assert data_problems(source=name, **field) == [
        f"data.{key}: applies to synthetic sets only, not '{name}'"
    ]


def test_bundled_set_is_returned_unchanged():
    assert DataConfig(source="iris").n_samples is None
    assert data_problems(source="iris") == []


@pytest.mark.parametrize("field", [{"n_samples": 100}, {"noise": 0.1}])
def test_csv_sources_refuse_synthetic_options(field):
    (key,) = field
    assert data_problems(source="points.csv", target="y", **field) == [
        f"data.{key}: applies to synthetic sets only, not CSV files"
    ]


def test_csv_source_needs_a_target():
    assert data_problems(source="points.csv") == [
        "data.target: required for a CSV source (the column to predict)"
    ]
    assert data_problems(source="points.csv", target="y") == []


def test_registered_sets_refuse_a_target():
    assert data_problems(source="xor", target="y") == ["data.target: applies to CSV files only"]


def test_every_source_problem_is_reported_at_once():
    problems = data_problems(source="pts.csv", n_samples=10, noise=0.1, ignore_columns=["y"])
    assert problems == [
        "data.target: required for a CSV source (the column to predict)",
        "data.n_samples: applies to synthetic sets only, not CSV files",
        "data.noise: applies to synthetic sets only, not CSV files",
    ]


@pytest.mark.parametrize(("typo", "meant"), [("mons", "moons"), ("irs", "iris"), ("Xor", "xor")])
def test_unknown_dataset_suggests_the_closest_name(typo, meant):
    (message,) = data_problems(source=typo)
    assert message.startswith(f"data.source: unknown dataset '{typo}'")
    assert f"did you mean '{meant}'" in message
    assert "valid: " + ", ".join(NAMES) in message
    assert "path to a .csv file" in message


# --- task overrides ----------------------------------------------------------------------------


def test_classification_set_as_regression_uses_the_numeric_class_values():
    natural = load("blobs", n_samples=60)
    as_regression = load("blobs", n_samples=60, task="regression")
    assert as_regression.task == "regression"
    assert as_regression.classes is None
    assert as_regression.y.dtype == np.float64
    np.testing.assert_array_equal(as_regression.y, np.asarray(natural.classes)[natural.y])
    np.testing.assert_array_equal(matrix(as_regression), matrix(natural))


def test_string_labels_cannot_become_a_regression_target():
    with pytest.raises(UsageError, match=r"^data\.task: regression needs a numeric target.*setosa"):
        load("iris", task="regression")


def test_regression_set_as_classification_makes_one_class_per_value():
    natural = load("sine", n_samples=12)
    as_classes = load("sine", n_samples=12, task="classification")
    assert as_classes.task == "classification"
    assert as_classes.y.dtype == np.int64
    assert as_classes.classes == sorted(set(natural.y.tolist()))
    np.testing.assert_array_equal(np.asarray(as_classes.classes)[as_classes.y], natural.y)


def test_integer_regression_target_becomes_integer_classes():
    natural = load("diabetes")
    as_classes = load("diabetes", task="classification")
    assert all(type(c) is int for c in as_classes.classes)
    np.testing.assert_array_equal(np.asarray(as_classes.classes)[as_classes.y], natural.y)


@pytest.mark.parametrize("name", ["xor", "sine"])
def test_naming_the_natural_task_changes_nothing(name):
    task = DATASETS[name].task
    natural, named = load(name, n_samples=20), load(name, n_samples=20, task=task)
    np.testing.assert_array_equal(natural.y, named.y)
    assert natural.classes == named.classes


# --- CSV ---------------------------------------------------------------------------------------


@pytest.fixture
def csv(tmp_path: Path):
    """Write text to a CSV file in tmp_path and return its path."""

    def write(text: str, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def test_string_labels_become_sorted_classes(csv):
    data = read_csv_dataset(csv("a,b,y\n1,2,cat\n3,4,dog\n5,6,ant\n7,8,cat\n"), "y", "auto")
    assert data.task == "classification"
    assert data.classes == ["ant", "cat", "dog"]
    assert data.y.tolist() == [1, 2, 0, 1]
    assert data.feature_names == ["a", "b"]
    assert data.target_name == "y"
    np.testing.assert_array_equal(matrix(data), [[1, 2], [3, 4], [5, 6], [7, 8]])
    assert data.features.index.tolist() == [2, 3, 4, 5]  # line numbers


def test_target_column_may_be_anywhere(csv):
    data = read_csv_dataset(csv("label,a,b\nx,1,2\ny,3,4\n"), "label", "auto")
    assert data.feature_names == ["a", "b"]
    assert data.classes == ["x", "y"]


def test_tsv_files_are_tab_separated(csv):
    data = read_csv_dataset(csv("a\tb\ty\n1\t2\tcat\n4\t5\tdog\n", "data.tsv"), "y", "auto")
    assert data.feature_names == ["a", "b"]
    assert data.classes == ["cat", "dog"]


def test_few_integer_labels_are_classes(csv):
    data = read_csv_dataset(csv("a,y\n1,3\n2,1\n3,3.0\n4,-2\n"), "y", "auto")
    assert data.task == "classification"
    assert data.classes == [-2, 1, 3]
    assert all(type(c) is int for c in data.classes)
    assert data.y.tolist() == [2, 1, 2, 0]


def test_many_distinct_integers_are_a_regression_target(csv):
    def rows(n: int) -> str:
        return "a,y\n" + "".join(f"{i},{i}\n" for i in range(n))

    at_limit = read_csv_dataset(csv(rows(MAX_INFERRED_CLASSES)), "y", "auto")
    assert at_limit.task == "classification"
    over = read_csv_dataset(csv(rows(MAX_INFERRED_CLASSES + 1)), "y", "auto")
    assert over.task == "regression"


def test_float_target_is_regression(csv):
    data = read_csv_dataset(csv("a,y\n1,0.5\n2,1.25\n3,3\n"), "y", "auto")
    assert data.task == "regression"
    assert data.classes is None
    assert data.y.dtype == np.float64
    np.testing.assert_array_equal(data.y, [0.5, 1.25, 3.0])


def test_explicit_task_overrides_the_inference(csv):
    path = csv("a,y\n1,3\n2,1\n3,3\n")
    regression = read_csv_dataset(path, "y", "regression")
    assert regression.task == "regression"
    np.testing.assert_array_equal(regression.y, [3.0, 1.0, 3.0])
    classes = read_csv_dataset(csv("a,y\n1,0.5\n2,1.5\n3,0.5\n", "f.csv"), "y", "classification")
    assert classes.task == "classification"
    assert classes.y.tolist() == [0, 1, 0]


def test_missing_csv_file(tmp_path: Path):
    path = tmp_path / "absent.csv"
    with pytest.raises(UsageError, match=rf"^{re.escape(str(path))}: data file not found$"):
        read_csv_dataset(path, "y", "auto")


def test_empty_csv_file(csv):
    with pytest.raises(UsageError, match=r"file is empty; expected a header row"):
        read_csv_dataset(csv(""), "y", "auto")


def test_header_only_csv_file(csv):
    with pytest.raises(UsageError, match=r"has a header but no data rows"):
        read_csv_dataset(csv("a,b,y\n"), "y", "auto")


def test_missing_target_column_lists_the_columns(csv):
    path = csv("a,b,y\n1,2,3\n")
    with pytest.raises(
        UsageError, match=r"missing target column\(s\): 'label'; the file has: 'a', 'b', 'y'$"
    ):
        read_csv_dataset(path, "label", "auto")


def test_target_only_file_has_no_features(csv):
    with pytest.raises(UsageError, match=r"no feature columns besides the target 'y'"):
        read_csv_dataset(csv("y\n1\n2\n"), "y", "auto")


@pytest.mark.parametrize("cell", ["", "NaN", "nan", "NA", "null"])
def test_missing_feature_value_names_line_and_column(csv, cell):
    path = csv(f"a,b,y\n1,2,0\n3,{cell},1\n5,6,0\n")
    with pytest.raises(UsageError) as raised:
        read_csv_dataset(path, "y", "auto")
    assert str(raised.value) == (
        f"{path}: 1 missing value(s) in 1 column(s): 'b' 1 (first on line 3); fill them in the"
        " file, or set data.missing: drop (those rows left out) or data.missing: impute (filled"
        " from the training split)"
    )


@pytest.mark.parametrize("cell", ["", "NaN", "na", " None "])
def test_a_missing_target_drops_the_row_and_says_so(csv, cell):
    data = read_csv_dataset(csv(f"a,y\n1,0\n2,1\n3,{cell}\n4,1\n"), "y", "auto")
    assert data.y.tolist() == [0, 1, 1] and data.features.index.tolist() == [2, 3, 5]
    assert "dropped 1 row(s) with no 'y' value (line(s) 4)" in data.notes


def test_na_and_none_are_class_labels_in_a_text_target(csv):
    data = read_csv_dataset(csv("a,y\n1,NA\n2,None\n3,cat\n4,\n5,NA\n"), "y", "auto")
    assert data.classes == ["NA", "None", "cat"] and data.y.tolist() == [0, 1, 2, 0]
    assert data.notes == ("dropped 1 row(s) with no 'y' value (line(s) 5)",)


def test_a_target_with_no_value_at_all_is_refused(csv):
    with pytest.raises(UsageError, match=r"column 'y' has no target value in any row"):
        read_csv_dataset(csv("a,y\n1,\n2,NA\n"), "y", "regression")


@pytest.mark.parametrize("cell", ["abc", "1,5", "inf", "1e999"])
def test_non_numeric_feature_names_line_column_and_value(csv, cell):
    quoted = f'"{cell}"' if "," in cell else cell
    path = csv(f"a,b,y\n1,2,0\n3,4,1\n5,{quoted},0\n")
    with pytest.raises(UsageError) as info:
        read_csv_dataset(path, "y", "auto")
    hint = " (a decimal comma? nncli reads '.' decimals)" if cell == "1,5" else ""
    assert str(info.value) == f"{path}: line 4, column 'b': not a finite number: {cell!r}{hint}"


def test_line_numbers_count_blank_lines_in_the_file(csv):
    # The bad cell is on the file's line 4; line 3 is blank.
    path = csv("a,b,y\n1,2,0\n\n5,abc,1\n")
    with pytest.raises(UsageError, match=r"line 4, column 'b': not a finite number: 'abc'"):
        read_csv_dataset(path, "y", "auto")


def test_regression_with_a_string_target_names_the_cell(csv):
    path = csv("a,y\n1,2.5\n2,cat\n3,1.0\n")
    with pytest.raises(
        UsageError, match=r"line 3, column 'y': regression needs a number, got 'cat'"
    ):
        read_csv_dataset(path, "y", "regression")


def test_duplicate_column_names_are_refused(csv):
    with pytest.raises(UsageError, match=r"duplicate column name\(s\)"):
        read_csv_dataset(csv("a,a,y\n1,2,0\n3,4,1\n"), "y", "auto")


def test_duplicate_column_message_names_the_column_as_written_in_the_file(csv):
    # pandas renames the second 'a' to 'a.1', a name the user never wrote.
    with pytest.raises(UsageError, match=r"duplicate column name\(s\): 'a'$"):
        read_csv_dataset(csv("a,a,y\n1,2,0\n3,4,1\n"), "y", "auto")


def test_a_column_named_like_a_pandas_duplicate_is_not_a_duplicate(csv):
    # pandas renames a repeated 'a' to 'a.1'; a file whose columns really are 'a' and 'a.1' is fine.
    data = read_csv_dataset(csv("a,a.1,y\n1,2,0\n3,4,1\n"), "y", "auto")
    assert data.feature_names == ["a", "a.1"]


def test_ragged_rows_are_refused_naming_the_line(csv):
    with pytest.raises(UsageError, match=r"line 3 has 4 fields, but the header has 3"):
        read_csv_dataset(csv("a,b,y\n1,2,0\n3,4,5,6\n"), "y", "auto")


def test_every_row_one_field_longer_than_the_header_is_not_silently_shifted(csv):
    # pandas would take the first column as an index and shift every value one column left.
    with pytest.raises(UsageError, match=r"line 2 has 4 fields, but the header has 3"):
        read_csv_dataset(csv("a,b,label\n1.2,1.4,1.8,1\n2,3,4,0\n"), "label", "auto")


def test_spaces_around_header_names_are_ignored(csv):
    data = read_csv_dataset(csv(" a , b , label \n1,2,x\n3,4,y\n5,6,x\n"), "label", "auto")
    assert data.feature_names == ["a", "b"] and data.classes == ["x", "y"]


def test_csv_loads_through_the_data_section(csv):
    path = csv("a,b,y\n1,2,0.5\n3,4,1.5\n5,6,2.5\n")
    data = load_dataset(DataConfig(source=str(path), target="y"))
    assert data.task == "regression"
    as_classes = load_dataset(DataConfig(source=str(path), target="y", task="classification"))
    assert as_classes.task == "classification"
    assert as_classes.y.tolist() == [0, 1, 2]


def test_many_numeric_labels_as_classes_stay_numbers_in_numeric_order(csv):
    rows = "".join(f"{i},{(i % 25) * 10}\n" for i in range(100))
    data = read_csv_dataset(csv("a,y\n" + rows), "y", "classification")
    assert data.classes == [i * 10 for i in range(25)]
    assert data.y[:3].tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("number", "label"),
    [(3.0, 3), (np.float64(4.0), 4), (-0.0, 0), (np.int64(7), 7), (2.5, 2.5), (1e20, 10**20)],
)
def test_label_value_keeps_integral_labels_as_ints(number, label):
    value = label_value(number)
    assert value == label and type(value) is type(label)


def test_numeric_csv_class_labels_become_ints_where_integral(csv):
    data = read_csv_dataset(csv("a,y\n1,2.0\n2,0.5\n3,1\n4,2\n"), "y", "classification")
    assert data.classes == [0.5, 1, 2] and [type(c) for c in data.classes] == [float, int, int]
    assert data.y.tolist() == [2, 0, 1, 2]


@pytest.mark.parametrize(
    ("text", "target", "task", "message"),
    [
        ("a,b,y\n1,2,0\n1e308,4,1\n5,6,0\n", "y", "auto", "3, column 'a': '1e308' is beyond"),
        ("a,b,y\n1,2,0\n3,-2e150,1\n5,6,0\n", "y", "auto", "3, column 'b': '-2e150' is beyond"),
        ("a,y\n1,0.5\n2,1e308\n3,2.5\n", "y", "regression", "3, column 'y': '1e308' is beyond"),
        ("a,y\n1,0.5\n2,1.5\n3,inf\n", "y", "auto", "4, column 'y': not a finite number: 'inf'"),
        ("a,y\n1,0\n2,1\n3,-inf\n", "y", "classification", "4, column 'y': not a finite number"),
    ],
    ids=["feature-1e308", "feature-minus-2e150", "target-1e308", "target-inf", "label-minus-inf"],
)
def test_values_that_overflow_are_refused_naming_line_and_column(csv, text, target, task, message):
    """1e308 is finite, but its square is not: a scaler's std became inf and zeroed the column."""
    with pytest.raises(UsageError, match=re.escape(f": line {message}")):
        read_csv_dataset(csv(text), target, task)


def test_values_up_to_1e150_are_kept(csv):
    data = read_csv_dataset(csv("a,y\n1e150,0.5\n-1e150,1e150\n0,2.5\n"), "y", "regression")
    assert matrix(data)[:, 0].tolist() == [1e150, -1e150, 0.0] and data.y[1] == 1e150


def wide_csv(path: Path, n_features: int, n_rows: int) -> Path:
    """Columns c0, c1, ... and y; the cell of row r, column ci is (r + i) % 7."""
    digits = ",".join(str(i % 7) for i in range(n_features + n_rows))  # one character each
    with path.open("w") as handle:
        handle.write(",".join(f"c{i}" for i in range(n_features)) + ",y\n")
        for row in range(n_rows):  # (row + i) % 7 for every i: the digits from the row's on
            handle.write(digits[2 * row : 2 * (row + n_features) - 1] + f",{row % 2}\n")
    return path


TOO_WIDE = {
    100_000: "the header has 100,001 columns; nncli reads at most 10,000",
    1_000_000: "the header line is longer than 4,194,304 characters",
}


@pytest.fixture(scope="module")
def too_wide(tmp_path_factory, limited_cli) -> dict:
    """`nncli train` on each too-wide file, in one child killed after 60 s (100,000 columns
    took over 2 minutes, a million over 15: a quadratic duplicate check). n_features -> (the
    file, the CompletedProcess)."""
    cases, files = {}, {}
    for n_features in TOO_WIDE:
        folder = tmp_path_factory.mktemp("wide")
        files[n_features] = wide_csv(folder / "wide.csv", n_features, n_rows=10)
        (folder / "wide.yaml").write_text("data: {source: wide.csv, target: y}\n")
        cases[str(n_features)] = (["train", "wide.yaml"], folder)
    results = limited_cli(cases, timeout=60)
    return {n: (files[n], results[str(n)]) for n in TOO_WIDE}


@pytest.mark.slow
@pytest.mark.parametrize("n_features", list(TOO_WIDE))
def test_a_file_too_wide_is_refused_from_its_header_in_seconds(too_wide, n_features):
    data, result = too_wide[n_features]
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == f"error: wide.yaml: {data}: {TOO_WIDE[n_features]}"
        + ("" if n_features < 10**6 else "; nncli reads 10,000 columns at most")
        + "\n"
    )


def test_the_widest_file_allowed_loads_with_every_column(tmp_path):
    data = read_csv_dataset(wide_csv(tmp_path / "wide.csv", 9_999, n_rows=20), "y", "auto")
    assert matrix(data).shape == (20, 9_999) and data.feature_names[-1] == "c9998"
    assert matrix(data)[3, 5] == (3 + 5) % 7


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(csv):
    """Spreadsheets save "CSV UTF-8" with a BOM; it became part of the first column's name."""
    path = csv("y,a\n0,1\n1,2\n0,3\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    data = read_csv_dataset(path, "y", "auto")
    assert data.feature_names == ["a"] and data.y.tolist() == [0, 1, 0]


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_data_file_that_is_not_a_regular_file_is_named_as_such(tmp_path, kind):
    path = tmp_path / "d.csv"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    shown = {"fifo": "a FIFO", "device": "a device", "folder": "a folder"}[kind]
    with pytest.raises(UsageError, match=f"d.csv: data file is {shown}, not a regular file$"):
        read_csv_dataset(path, "y", "auto")


# --- dialects, chosen columns, categories and missing values -----------------------------------


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_the_delimiter_is_found_in_the_header_line(csv, sep):
    text = f"a{sep}colour{sep}y\n1,5{sep}red{sep}0\n2{sep}blue{sep}1\n".replace("1,5", "1.5")
    data = read_csv_dataset(csv(text), "y", "auto")
    assert data.feature_names == ["a", "colour"] and data.y.tolist() == [0, 1]
    assert f"data.csv: fields separated by {sep!r}" in data.notes


def test_a_quoted_comma_in_a_header_name_does_not_fool_the_detection(csv):
    data = read_csv_dataset(csv('"a,b";c;y\n1;2;0\n3;4;1\n'), "y", "auto")
    assert data.feature_names == ["a,b", "c"]


def test_data_delimiter_overrides_the_detection(csv):
    path = csv("a;b,c,d;y\n1;2,5,7;0\n3;4,5,7;1\n")  # as many commas as semicolons: ','
    with pytest.raises(UsageError, match=r"missing target column\(s\): 'y'; the file has: 'a;b'"):
        read_csv_dataset(path, "y", "auto")
    data = read_csv_dataset(path, "y", "auto", delimiter=";", categorical=["b,c,d"])
    assert data.feature_names == ["a", "b,c,d"] and data.features["b,c,d"].tolist() == [
        "2,5,7",
        "4,5,7",
    ]


def test_a_tilde_in_the_source_is_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n")
    assert read_csv_dataset(Path("~/d.csv"), "y").y.tolist() == [0, 1]


def test_data_features_chooses_the_columns_in_its_order(csv):
    path = csv("id,a,b,c,y\n1,2,3,4,0\n5,6,7,8,1\n")
    data = read_csv_dataset(path, "y", "auto", features=["c", "a"])
    assert data.feature_names == ["c", "a"] and matrix(data).tolist() == [[4, 2], [8, 6]]


def test_unknown_column_names_are_all_reported_with_the_closest(csv):
    path = csv("bill_length_mm,island,species\n1,Dream,a\n2,Biscoe,b\n")
    has = "it has: 'bill_length_mm', 'island', 'species'"
    with pytest.raises(UsageError) as info:
        read_csv_dataset(path, "species", ignore_columns=["id"], categorical=["ilsand"],
                         numeric=["zzz"])  # fmt: skip
    assert str(info.value).splitlines() == [
        f"{path}: data.ignore_columns: no column 'id' in the file; {has}",
        f"{path}: data.categorical: no column 'ilsand' in the file (did you mean 'island'?); {has}",
        f"{path}: data.numeric: no column 'zzz' in the file; {has}",
    ]
    with pytest.raises(UsageError) as info:
        read_csv_dataset(path, "species", features=["bill_lenght_mm", "island"])
    assert str(info.value) == (
        f"{path}: data.features: no column 'bill_lenght_mm' in the file (did you mean"
        f" 'bill_length_mm'?); {has}"
    )


def test_text_and_boolean_columns_are_categories_and_numbers_stay_numbers(csv):
    path = csv("n,colour,flag,y\n1,red,True,0\n2,blue,False,1\n3,red,True,0\n")
    data = read_csv_dataset(path, "y")
    assert list(data.features.dtypes) == [np.float64, object, object]
    assert data.features["flag"].tolist() == ["True", "False", "True"]


def test_forced_columns_are_categories_or_numbers_as_told(csv):
    path = csv("code,n,y\n1,2,0\n2,3,1\n10,4,0\n")
    data = read_csv_dataset(path, "y", categorical=["code"])
    assert data.features["code"].tolist() == ["1", "2", "10"]
    with pytest.raises(UsageError, match=r"line 3, column 'c': not a finite number: 'x'$"):
        read_csv_dataset(csv("c,y\n2,0\nx,1\n", "e.csv"), "y", numeric=["c"])


@pytest.mark.parametrize(
    "cell", ["2012-01-31", "2012/1/31", "2012-01-31 13:05:00", "2012-01-31T13:05Z"]
)
def test_dates_are_refused_with_what_to_do_instead(csv, cell):
    path = csv(f"when,a,y\n{cell},1,0\n{cell},2,1\n")
    with pytest.raises(UsageError) as info:
        read_csv_dataset(path, "y")
    assert str(info.value).startswith(
        f"{path}: column 'when' holds dates such as {cell!r} (line 2);"
    )
    assert "data.ignore_columns" in str(info.value) and "day of year" in str(info.value)
    assert read_csv_dataset(path, "y", categorical=["when"]).features["when"].tolist() == [cell] * 2


def test_numbers_with_decimal_commas_are_refused_not_taken_as_categories(csv):
    with pytest.raises(UsageError, match=r"column 'w' holds numbers with a decimal comma such as"
                       r" '3,5' \(line 2\)"):  # fmt: skip
        read_csv_dataset(csv("w;y\n3,5;0\n4,25;1\n"), "y")


def test_an_id_or_free_text_column_is_refused_unless_named_categorical(csv):
    rows = "".join(f"person{i},{i % 2}\n" for i in range(30))
    path = csv("name,y\n" + rows)
    with pytest.raises(UsageError, match=r"column 'name' holds 30 distinct texts in 30 rows"):
        read_csv_dataset(path, "y")
    assert read_csv_dataset(path, "y", categorical=["name"]).features["name"].nunique() == 30


@pytest.mark.parametrize("cell", ["", "NA", "n/a", "?"])
def test_missing_features_under_each_policy(csv, cell):
    path = csv(f"a,c,y\n1,x,no\n{cell},y,yes\n3,{cell},no\n4,y,yes\n")
    listed = ["?"] if cell == "?" else ["NA", "n/a"]
    with pytest.raises(UsageError, match=r": 2 missing value\(s\) in 2 column\(s\): 'a' 1 \(first"
                       r" on line 3\), 'c' 1 \(first on line 4\); fill them in the file, or set"
                       r" data.missing: drop \(those rows left out\) or data.missing: impute"
                       r" \(filled from the training split\)$"):  # fmt: skip
        read_csv_dataset(path, "y", missing_values=listed)
    dropped = read_csv_dataset(path, "y", missing="drop", missing_values=listed)
    assert dropped.features.index.tolist() == [2, 5] and dropped.classes == ["no", "yes"]
    assert dropped.notes == (
        "data.missing: drop: dropped 2 row(s) missing a feature value (line(s) 3, 4)",
    )
    kept = read_csv_dataset(path, "y", missing="impute", missing_values=listed)
    assert np.isnan(kept.features["a"].tolist()[1]) and kept.features["c"].tolist()[2] is None
    assert kept.notes[0].startswith("data.missing: impute: 2 missing value(s) in 'a', 'c'")


def test_a_string_not_listed_as_missing_is_a_value(csv):
    data = read_csv_dataset(csv("c,y\nNA,0\nx,1\n"), "y", missing_values=[])
    assert data.features["c"].tolist() == ["NA", "x"]


def test_integer_targets_taken_as_classes_say_so_and_data_task_overrides_it(csv):
    path = csv("a,y\n1,3\n2,1\n3,3\n4,2\n")
    data = read_csv_dataset(path, "y")
    assert data.task == "classification" and data.notes == (
        "target 'y': 3 distinct integers, taken as classes; set data.task: regression to"
        " predict numbers",
    )
    regression = read_csv_dataset(path, "y", "regression")
    assert regression.task == "regression" and regression.notes == ()

"""The data checks before training (data/checks.py), on real-shaped tables made here: an id, a
constant, a column that leaks the target, values far out, missing cells. Each figure is
recomputed here with an independent reference (scipy's Spearman correlation, scikit-learn's
decision stump, pandas' cross tables) from the training split's rows."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from sklearn.tree import DecisionTreeClassifier

from nncli.config.data import DataConfig
from nncli.config.loading import load_config
from nncli.data.checks import FAR_SD, _best_intervals, training_warnings
from nncli.data.prepared import PreparedData, prepare_data
from nncli.errors import UsageError

N = 2000
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def wages(rng: np.random.Generator) -> pd.DataFrame:
    """A wage survey: a row number, age, education, a constant year, weekly hours with two
    typos (a hundred times too large), and the log of the target."""
    age = rng.integers(18, 80, N)
    education = rng.choice(["1. < HS", "2. HS", "3. Some College", "4. College", "5. Advanced"], N)
    level = np.char.partition(education.astype(str), ".")[:, 0].astype(int)
    wage = np.exp(3.5 + 0.01 * age + 0.15 * level + rng.normal(0, 0.3, N)).round(2)
    hours = rng.normal(40, 5, N).round(1)
    hours[[10, 1500]] = [4000.0, 3850.0]
    return pd.DataFrame(
        {
            "rownames": np.arange(1, N + 1),
            "year": 2003,
            "age": age,
            "education": education,
            "hours": hours,
            "logwage": (np.log(wage) + rng.normal(0, 0.02, N)).round(4),
            "wage": wage,
        }
    )


def passengers(rng: np.random.Generator) -> pd.DataFrame:
    """A passenger list sorted by class, with its row number: missing ages and ports, and the
    lifeboat a survivor was in (0: none), which gives survival away."""
    pclass = np.sort(rng.choice([1, 2, 3], N, p=[0.25, 0.25, 0.5]))
    sex = rng.choice(["female", "male"], N)
    survived = rng.random(N) < np.where(sex == "female", 0.75, 0.2) - 0.05 * (pclass - 1)
    boat = np.where(survived, rng.integers(1, 17, N), 0)
    boat[np.flatnonzero(survived)[:4]] = 0  # four survivors were picked up from the water
    age = rng.normal(30, 12, N).clip(1, 80).round(0)
    age[rng.random(N) < 0.2] = np.nan
    embarked = rng.choice(["C", "Q", "S"], N).astype(object)
    embarked[[5, 700]] = None
    return pd.DataFrame(
        {
            "rownames": np.arange(1, N + 1),
            "pclass": pclass,
            "sex": sex,
            "age": age,
            "fare": rng.uniform(5, 100, N).round(2) * (4 - pclass),
            "embarked": embarked,
            "boat": boat,
            "survived": np.where(survived, "yes", "no"),
        }
    )


def prepared(tmp_path, table: pd.DataFrame, **data) -> PreparedData:
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    return prepare_data(DataConfig(source=str(path), **data))


def training_rows(data: PreparedData, table: pd.DataFrame) -> pd.DataFrame:
    """The training split's rows of `table`, found by their line numbers (header: line 1)."""
    return table.iloc[data.rows["train"] - 2]


def test_each_check_names_the_column_the_figure_and_what_to_set(tmp_path):
    table = wages(np.random.default_rng(0))
    data = prepared(tmp_path, table, target="wage", task="regression")
    train = training_rows(data, table)
    n = len(train)
    share = spearmanr(train["logwage"], train["wage"]).statistic ** 2  # the reference
    hours = train["hours"].to_numpy()
    z = np.abs(hours - hours.mean()) / hours.std()
    far = np.flatnonzero(z > FAR_SD)
    assert len(far) == 2  # both typos are in the training split, and only they are far out
    worst = far[np.argmax(z[far])]
    lines = ", ".join(str(line) for line in data.rows["train"][far])
    assert data.warnings == (
        f"'rownames': a distinct integer in each of the {n:,} training rows, like a row number"
        " or an id; its order may follow the target (a file sorted by class or date), and its"
        " values mean nothing to new rows: leave it out with data.ignore_columns: [rownames]",
        f"'year': one value (2003) in all {n:,} training rows, so it tells the model nothing:"
        " leave it out with data.ignore_columns: [year]",
        f"'logwage' alone explains {share:.1%} of 'wage' (squared rank correlation {share:.3f}):"
        " is it computed from the target, or known only with it? If so, leave it out with"
        " data.ignore_columns: [logwage]",
        f"'hours': 2 rows more than 20 standard deviations from the training mean"
        f" {hours.mean():.4g} (sd {hours.std():.4g}), the farthest {hours[worst]:.4g} at"
        f" {z[worst]:.0f} sd (line(s) {lines}): data errors? Fix or remove those rows in the"
        " file; left in, they can make training diverge at the default training.lr",
    )
    assert 0.99 <= share < 1


def test_a_clean_table_gives_no_warning(tmp_path):
    table = wages(np.random.default_rng(0))
    table.loc[[10, 1500], "hours"] = 40.0
    clean = prepared(tmp_path, table, target="wage", ignore_columns=["rownames", "year", "logwage"])
    assert clean.warnings == ()
    passengers_clean = prepared(
        tmp_path,
        passengers(np.random.default_rng(1)),
        target="survived",
        ignore_columns=["rownames", "boat"],
        missing="impute",
    )
    assert passengers_clean.warnings == ()


def test_a_leaking_code_and_a_sorted_row_number_in_a_classification_table(tmp_path):
    table = passengers(np.random.default_rng(1))
    data = prepared(tmp_path, table, target="survived", missing="impute")
    train = training_rows(data, table)
    n = len(train)
    # The reference: each boat's most frequent outcome, counted by pandas.
    right = pd.crosstab(train["boat"], train["survived"]).max(axis=1).sum() / n
    always = train["survived"].value_counts(normalize=True).max()
    assert data.warnings == (
        f"'rownames': a distinct integer in each of the {n:,} training rows, like a row number"
        " or an id; its order may follow the target (a file sorted by class or date), and its"
        " values mean nothing to new rows: leave it out with data.ignore_columns: [rownames]",
        f"'boat' alone predicts 'survived' in {right:.1%} of the training rows (always the most"
        f" frequent class: {always:.1%}): is it computed from the target, or known only with"
        " it? If so, leave it out with data.ignore_columns: [boat]",
    )
    assert 0.99 <= right < 1


def test_a_threshold_that_gives_the_class_away_matches_a_decision_stump(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.random(N) < 0.3
    flipped = y ^ (rng.random(N) < 0.004)
    table = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, N).round(2),
            "review_minutes": (np.where(flipped, 30, 5) + rng.uniform(0, 20, N)).round(3),
            "label": np.where(y, "fraud", "ok"),
        }
    )
    data = prepared(tmp_path, table, target="label", ignore_columns=[])
    train = training_rows(data, table)
    stump = DecisionTreeClassifier(max_depth=1).fit(train[["review_minutes"]], train["label"])
    right = stump.score(train[["review_minutes"]], train["label"])
    always = train["label"].value_counts(normalize=True).max()
    assert data.warnings == (
        f"'review_minutes' alone predicts 'label' in {right:.1%} of the training rows (always"
        f" the most frequent class: {always:.1%}): is it computed from the target, or known only"
        " with it? If so, leave it out with data.ignore_columns: [review_minutes]",
    )
    assert 0.99 <= right < 1


def test_every_column_with_missing_cells_is_counted_in_one_error(tmp_path):
    table = passengers(np.random.default_rng(1))
    path = tmp_path / "passengers.csv"
    table.to_csv(path, index=False)
    ages = table["age"].isna().to_numpy()
    with pytest.raises(UsageError) as raised:
        prepare_data(DataConfig(source=str(path), target="survived"))
    assert str(raised.value) == (
        f"{path}: {ages.sum() + 2:,} missing value(s) in 2 column(s): 'age' {ages.sum()} (first"
        f" on line {np.argmax(ages) + 2}), 'embarked' 2 (first on line 7); fill them in the"
        " file, or set data.missing: drop (those rows left out) or data.missing: impute (filled"
        " from the training split)"
    )


def test_advice_keeps_ignored_columns_quotes_odd_names_and_follows_data_features():
    rng = np.random.default_rng(3)
    cells = pd.DataFrame({"row id": np.arange(50.0), "x": rng.normal(size=50)})
    y = rng.integers(0, 2, 50)
    listed = DataConfig(source="t.csv", target="y", ignore_columns=["name", "No"])
    (line,) = training_warnings(cells, y, listed, classes=[0, 1], target="y")
    assert line.endswith('leave it out with data.ignore_columns: [name, "No", "row id"]')
    shown = line.rpartition("data.ignore_columns: ")[2]
    assert yaml.safe_load(shown) == ["name", "No", "row id"]  # what the user pastes reads back
    chosen = DataConfig(source="t.csv", target="y", features=["row id", "x"])
    (line,) = training_warnings(cells, y, chosen, classes=[0, 1], target="y")
    assert line.endswith("its values mean nothing to new rows: leave it out of data.features")


def test_many_columns_with_one_warning_share_a_line():
    cells = pd.DataFrame({f"pixel_{i}": np.zeros(30) for i in range(6)})
    cells["ink"] = np.random.default_rng(4).normal(size=30)
    data = DataConfig(source="p.csv", target="y")
    lines = training_warnings(cells, np.zeros(30, dtype=np.int64), data, classes=[0, 1], target="y")
    assert len(lines) == 4
    assert lines[3] == (
        "3 more columns with the same warning (one value): 'pixel_3', 'pixel_4', 'pixel_5'"
    )


def test_the_checks_read_the_training_split_only(tmp_path):
    """A value far out in the test split alone is not seen: nothing is chosen on test rows."""
    table = wages(np.random.default_rng(0)).drop(columns=["rownames", "year", "logwage"])
    probe = prepared(tmp_path, table, target="wage")
    table.loc[probe.rows["test"][0] - 2, "hours"] = 1e6
    assert prepared(tmp_path, table, target="wage").warnings[0].startswith("'hours': 2 rows")
    table.loc[[10, 1500], "hours"] = 40.0
    assert prepared(tmp_path, table, target="wage").warnings == ()


def test_a_column_with_no_value_in_the_training_split_is_passed_over():
    cells = pd.DataFrame({"a": np.full(40, np.nan), "c": pd.Series([None] * 40, dtype=object)})
    cells["b"] = np.random.default_rng(5).normal(size=40)
    data = DataConfig(source="t.csv", target="y", missing="impute")
    assert training_warnings(cells, np.arange(40.0), data, classes=None, target="y") == ()


def test_a_table_missing_cells_in_many_columns_names_eight_and_counts_the_rest(tmp_path):
    rng = np.random.default_rng(6)
    table = pd.DataFrame(rng.normal(size=(30, 10)), columns=[f"m{i}" for i in range(10)])
    for i in range(10):
        table.iloc[i : i + 2, i] = np.nan  # two cells of each column, from line i + 2
    table["y"] = rng.integers(0, 2, 30)
    path = tmp_path / "holes.csv"
    table.to_csv(path, index=False)
    with pytest.raises(UsageError) as raised:
        prepare_data(DataConfig(source=str(path), target="y"))
    named = ", ".join(f"'m{i}' 2 (first on line {i + 2})" for i in range(8))
    assert str(raised.value) == (
        f"{path}: 20 missing value(s) in 10 column(s): {named}, … (2 more columns); fill them in"
        " the file, or set data.missing: drop (those rows left out) or data.missing: impute"
        " (filled from the training split)"
    )


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.yaml")), ids=lambda path: path.stem)
def test_the_shipped_configs_give_no_data_warning(config):
    assert prepare_data(load_config(config).data).warnings == ()


@settings(max_examples=60, deadline=None)
@given(
    numbers=st.lists(
        st.one_of(st.none(), st.integers(-3, 3), st.floats(-1e6, 1e6)), min_size=1, max_size=120
    ),
    labels=st.lists(st.sampled_from(["a", "b", None]), min_size=1, max_size=120),
    regression=st.booleans(),
)
def test_any_table_gives_lines_never_an_exception(numbers, labels, regression):
    n = min(len(numbers), len(labels))
    cells = pd.DataFrame(
        {
            "x": np.array([np.nan if v is None else v for v in numbers[:n]], dtype=np.float64),
            "c": pd.Series(labels[:n], dtype=object),
            "k": np.arange(n, dtype=np.float64),
        }
    )
    y = np.arange(n) % 3
    data = DataConfig(source="t.csv", target="y", missing="impute")
    target = y.astype(np.float64) if regression else y
    lines = training_warnings(cells, target, data, classes=None if regression else [0, 1, 2],
                              target="y")  # fmt: skip
    assert all(isinstance(line, str) and "\n" not in line for line in lines)


@pytest.mark.parametrize("seed", range(20))
def test_the_interval_rule_is_the_best_cut_found_by_trying_every_one(seed):
    """At most k intervals of items in order, each answering its most frequent class: checked
    against every way of cutting them."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, size=(rng.integers(1, 8), rng.integers(2, 4)))  # (R, C)
    k = int(rng.integers(1, 4))
    best = 0
    for cuts in range(min(k, len(counts))):
        for inner in itertools.combinations(range(1, len(counts)), cuts):
            edges = [0, *inner, len(counts)]
            right = sum(counts[a:b].sum(axis=0).max() for a, b in itertools.pairwise(edges))
            best = max(best, right)
    assert _best_intervals(counts, k) == best

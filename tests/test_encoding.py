"""The encoder: categories and fill values learned on the training rows, checked against
scikit-learn's OneHotEncoder and SimpleImputer, applied to any rows, and kept in the card."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

from nncli.config.data import DataConfig
from nncli.data.encoding import Encoder, fit_encoder
from nncli.data.preprocessing import fit_scaler
from nncli.errors import UsageError


def settings(**data) -> DataConfig:
    return DataConfig(source="d.csv", target="y", **data)


def cells(rng: np.random.Generator, n: int, missing: float = 0.0) -> pd.DataFrame:
    """Typed cells as csvdata makes them: two numeric and two categorical columns; the index
    holds line numbers."""
    frame = pd.DataFrame(
        {
            "bill": rng.normal(40, 5, n),
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], n).astype(object),
            "mass": rng.normal(4000, 500, n),
            "sex": rng.choice(["FEMALE", "MALE"], n).astype(object),
        },
        index=np.arange(2, n + 2),
    )
    for column in frame.columns:
        holes = rng.random(n) < missing
        frame.loc[holes, column] = np.nan if frame[column].dtype == float else None
    return frame


def test_categories_come_from_the_training_rows_and_match_one_hot_encoder():
    rng = np.random.default_rng(0)
    train, test = cells(rng, 60), cells(rng, 25)
    encoder = fit_encoder(train, settings())
    assert encoder.feature_names == [
        "bill", "island=Biscoe", "island=Dream", "island=Torgersen", "mass",
        "sex=FEMALE", "sex=MALE",
    ]  # fmt: skip
    reference = OneHotEncoder(sparse_output=False).fit(train[["island", "sex"]])
    for rows in (train, test):
        x = encoder.transform(rows, "d.csv")  # (N, 7)
        np.testing.assert_array_equal(x[:, [0, 4]], rows[["bill", "mass"]].to_numpy())
        np.testing.assert_array_equal(
            x[:, [1, 2, 3, 5, 6]], reference.transform(rows[["island", "sex"]])
        )
    np.testing.assert_array_equal(encoder.one_hot, [False, True, True, True, False, True, True])


@pytest.mark.parametrize("how", ["mean", "median"])
def test_imputed_values_are_learned_on_the_training_rows_as_simple_imputer_does(how):
    rng = np.random.default_rng(1)
    train, test = cells(rng, 80, missing=0.2), cells(rng, 30, missing=0.2)
    encoder = fit_encoder(train, settings(missing="impute", impute=how))
    numbers = SimpleImputer(strategy=how).fit(train[["bill", "mass"]])
    categories = SimpleImputer(strategy="most_frequent").fit(train[["island", "sex"]])
    for rows in (train, test):
        x = encoder.transform(rows, "d.csv")
        assert np.isfinite(x).all()
        np.testing.assert_allclose(x[:, [0, 4]], numbers.transform(rows[["bill", "mass"]]))
        filled = pd.DataFrame(
            categories.transform(rows[["island", "sex"]]), columns=["island", "sex"]
        )
        expected = OneHotEncoder(sparse_output=False).fit(train[["island", "sex"]].dropna())
        np.testing.assert_array_equal(x[:, [1, 2, 3, 5, 6]], expected.transform(filled))


def test_a_category_the_training_rows_lack_is_an_error_or_all_zeros():
    train = pd.DataFrame({"colour": ["red", "blue", "red"]}, index=[2, 3, 4], dtype=object)
    later = pd.DataFrame({"colour": ["blue", "green"]}, index=[7, 9], dtype=object)
    with pytest.raises(UsageError) as info:
        fit_encoder(train, settings()).transform(later, "new.csv")
    assert str(info.value) == (
        "new.csv: line 9, column 'colour': category 'green' is not in the training split, which"
        " has 'blue', 'red'; set data.unknown_categories: zeros to encode categories it lacks"
        " as all zeros"
    )
    zeros = fit_encoder(train, settings(unknown_categories="zeros")).transform(later, "new.csv")
    np.testing.assert_array_equal(zeros, [[1.0, 0.0], [0.0, 0.0]])


def test_a_missing_cell_with_nothing_to_fill_it_names_line_and_column():
    train = pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]}, index=[2, 3])
    encoder = fit_encoder(train, settings(missing="drop"))
    for later, column in ((pd.DataFrame({"a": [np.nan], "c": ["x"]}, index=[5]), "a"),
                          (pd.DataFrame({"a": [1.0], "c": [None]}, index=[5]), "c")):  # fmt: skip
        with pytest.raises(UsageError, match=rf"^p.csv: line 5, column '{column}': missing value"
                           r"; fill or drop the row \(this model fills in none: it was trained"
                           r" with data.missing: drop\)$"):  # fmt: skip
            encoder.transform(later, "p.csv")


def test_numeric_codes_sort_by_value_and_the_most_frequent_fills_ties_first():
    train = pd.DataFrame({"code": ["10", "2", "2", "10", "1", None]}, dtype=object)
    encoder = fit_encoder(train, settings(missing="impute"))
    (code,) = encoder.columns
    assert code.categories == ("1", "2", "10") and code.fill == "2"


def test_the_encoder_survives_its_dict_and_refuses_a_malformed_one():
    rng = np.random.default_rng(2)
    encoder = fit_encoder(cells(rng, 40, missing=0.1), settings(missing="impute"))
    again = Encoder.from_dict(encoder.to_dict())
    assert again == encoder
    rows = cells(rng, 10, missing=0.3)
    np.testing.assert_array_equal(again.transform(rows, "d"), encoder.transform(rows, "d"))
    broken = encoder.to_dict()
    broken["columns"][1]["fill"] = "Atlantis"
    with pytest.raises(ValueError, match="fill must be one of its categories"):
        Encoder.from_dict(broken)


def test_one_hot_inputs_are_left_unscaled_so_all_zeros_stays_neutral():
    x = np.array([[1.0, 1.0, 0.0], [3.0, 0.0, 1.0], [5.0, 1.0, 0.0]])
    scaler = fit_scaler(x, "standard", unscaled=np.array([False, True, True]))
    np.testing.assert_allclose(scaler.offset, [3.0, 0.0, 0.0])
    np.testing.assert_allclose(scaler.scale, [np.std([1, 3, 5]), 1.0, 1.0])


def test_a_column_with_no_training_value_cannot_be_imputed():
    train = pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 2.0]})
    with pytest.raises(UsageError, match=r"^d.csv: column 'a' has no value in the training split"):
        fit_encoder(train, settings(missing="impute"))

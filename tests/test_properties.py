"""Arbitrary input to the loaders: the only outcomes are a result or nncli's own error."""

from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli.config import Config, load_config
from nncli.csvdata import read_csv_dataset
from nncli.datasets import Dataset
from nncli.errors import NncliError

# NNCLI_EXAMPLES raises the count for a longer hunt; CI keeps the suite fast.
SETTINGS = settings(
    max_examples=int(os.environ.get("NNCLI_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

KEYS = st.sampled_from(
    ["data", "model", "training", "output", "seed", "name", "source", "split", "train", "val",
     "test", "depth", "width", "activation", "lr", "batch_size", "epochs", "momentum",
     "early_stopping", "patience", "n_samples", "noise", "task", "target", "scaling", "moons",
     "relu", "x"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    KEYS,
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), inner, max_size=5),
    ),
    max_leaves=25,
)


def load_text(text: str, overrides: list[str] | None = None) -> Config | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_config(path, overrides or [])
        except NncliError as exc:
            assert str(exc).strip(), "an error must say something"
            return None


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_a_config_file(text):
    assert load_text(text) is None or isinstance(load_text(text), Config)


@SETTINGS
@given(DOCUMENTS)
def test_any_yaml_document_as_a_config(document):
    text = yaml.safe_dump(document, allow_unicode=True)
    result = load_text(text)
    assert result is None or isinstance(result, Config)


@SETTINGS
@given(st.lists(st.text(max_size=40), max_size=4))
def test_any_override_strings(overrides):
    base = "data: {source: moons}\n"
    result = load_text(base, overrides)
    assert result is None or isinstance(result, Config)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            ["training.lr", "model.width", "model.depth", "data.split.val", "training", "seed",
             "data", "training.early_stopping.patience", "model.activation", ""]
        ),
        max_size=3,
    ),
    st.lists(st.one_of(SCALARS.map(str), st.text(string.printable, max_size=15)), max_size=3),
)  # fmt: skip
def test_override_keys_with_any_values(keys, values):
    overrides = [f"{k}={v}" for k, v in zip(keys, values, strict=False)]
    result = load_text("data: {source: moons}\n", overrides)
    assert result is None or isinstance(result, Config)


CELLS = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "NaN", "na", "a", "b", " 1 ", "1e3", '"x,y"', "1,2"]),
    st.text(alphabet=string.printable, max_size=6),
)


@SETTINGS
@given(
    st.lists(st.sampled_from(["a", "b", "y", "c", "a"]), min_size=0, max_size=4),
    st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=12),
    st.sampled_from(["auto", "classification", "regression"]),
)
def test_any_csv_contents(header, rows, task):
    text = ",".join(header) + "\n" + "\n".join(",".join(row) for row in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.csv"
        path.write_text(text, encoding="utf-8")
        try:
            dataset = read_csv_dataset(path, "y", task)
        except NncliError as exc:
            assert str(path) in str(exc)
            return
    assert isinstance(dataset, Dataset)
    assert dataset.X.shape[0] == len(dataset.y) > 0


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_as_a_csv(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.csv"
        path.write_bytes(data)
        try:
            read_csv_dataset(path, "y", "auto")
        except NncliError as exc:
            assert str(path) in str(exc)

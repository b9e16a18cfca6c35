"""Arbitrary input to the loaders: the only outcomes are a result or nncli's own error."""

from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli.config.data import DataConfig
from nncli.config.loading import load_config
from nncli.config.schema import dump_config
from nncli.data.csvdata import read_csv_dataset
from nncli.data.dataset import Dataset
from nncli.data.encoding import fit_encoder
from nncli.errors import ConfigError, NncliError

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


def assert_loads_or_says_where(text: str, overrides: list[str] | None = None) -> None:
    """`text` as a config file gives a Config, or an NncliError in which each problem names
    the file or the --set option at fault. Any other exception fails the test.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path, overrides or [])
        except ConfigError as exc:  # one problem per line, but a key may hold a newline itself
            assert exc.problems
            for problem in exc.problems:
                assert problem.startswith(f"{path}: "), problem
            return
        except NncliError as exc:
            assert str(exc).startswith((f"{path}:", "--set ")), str(exc)
            assert "\n" not in str(exc), str(exc)
            return
        # A config that loads also loads again, unchanged, from what `nncli config` prints.
        path.write_text(dump_config(config), encoding="utf-8")
        assert load_config(path) == config


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_a_config_file(text):
    assert_loads_or_says_where(text)


@SETTINGS
@given(DOCUMENTS)
def test_any_yaml_document_as_a_config(document):
    assert_loads_or_says_where(yaml.safe_dump(document, allow_unicode=True))


@SETTINGS
@given(st.lists(st.text(max_size=40), max_size=4))
def test_any_override_strings(overrides):
    assert_loads_or_says_where("data: {source: moons}\n", overrides)


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
    assert_loads_or_says_where("data: {source: moons}\n", overrides)


def read(path: Path, task: str = "auto", missing: str = "error") -> Dataset:
    return read_csv_dataset(DataConfig(source=str(path), target="y", task=task, missing=missing))


def assert_usable(dataset: Dataset, missing: str = "error") -> None:
    """What training relies on: finite inputs once encoded, one target per row, labels that
    index classes."""
    n, f = dataset.features.shape
    assert n == len(dataset.y) > 0 and f == len(dataset.feature_names) > 0
    settings = DataConfig(source="d.csv", target="y", missing=missing)
    x = fit_encoder(dataset.features, settings).transform(dataset.features, "d.csv")
    assert x.shape[0] == n and np.isfinite(x).all()
    if dataset.task == "classification":
        assert dataset.classes and set(dataset.y.tolist()) <= set(range(len(dataset.classes)))
    else:
        assert dataset.classes is None and np.isfinite(dataset.y).all()


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
    st.sampled_from(["error", "drop", "impute"]),
    st.sampled_from([",", ";"]),
)
def test_any_csv_contents(header, rows, task, missing, delimiter):
    text = delimiter.join(header) + "\n" + "\n".join(delimiter.join(row) for row in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.csv"
        path.write_text(text, encoding="utf-8")
        try:
            dataset = read(path, task, missing)
        except NncliError as exc:
            assert str(path) in str(exc)
            return
    assert_usable(dataset, missing)


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_as_a_csv(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.csv"
        path.write_bytes(data)
        try:
            dataset = read(path)
        except NncliError as exc:
            assert str(path) in str(exc)
            return
    assert_usable(dataset)

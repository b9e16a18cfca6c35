"""A labelled CSV file read as a saved model's training read its data: columns matched by name,
cells typed and encoded the same way, the target mapped to the model's classes (`nncli evaluate
--data`). Its own module so that evaluating on a run's own splits never imports pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nncli.data.csvdata import is_missing, numeric_columns, typed_features
from nncli.data.csvfile import read_table
from nncli.data.dataset import label_value
from nncli.errors import UsageError, excerpt, excerpts
from nncli.model.card import ModelCard
from nncli.tasks import TASKS


def read_labelled_csv(card: ModelCard, path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features matched to the model by name (any order), encoded as in training; the target
    mapped to class indices. Rows without a target, and (for a model trained with
    `data.missing: drop`) rows missing a feature, are dropped and counted in the notes."""
    table = read_table(path)
    encoder = card.encoder
    columns = [str(c) for c in table.columns]
    present = set(columns)
    missing = [c for c in encoder.names if c not in present]
    data = card.config.get("data", {})
    # Trained on chosen data.features, the model never saw the file's other columns.
    expected = {*encoder.names, card.target_name, *data.get("ignore_columns", [])}
    extra = [] if data.get("features") else [c for c in columns if c not in expected]
    if missing or extra:
        parts = [f"missing feature column(s): {excerpts(missing)}"] if missing else []
        parts += [f"unexpected column(s): {excerpts(extra)}"] if extra else []
        raise UsageError(
            f"{path}: columns do not match the model ({'; '.join(parts)});"
            f" the model expects: {excerpts(encoder.names)}"
        )
    if card.target_name not in present:
        raise UsageError(f"{path}: missing target column {excerpt(card.target_name)}")
    notes = []
    labels = table[card.target_name].str.strip()
    no_target = labels.eq("").to_numpy()
    if not TASKS[card.task].classes or all(isinstance(c, int | float) for c in card.classes or []):
        no_target = no_target | is_missing(labels, encoder.missing_values)  # a number's NA
    if no_target.any():
        notes.append(f"dropped {int(no_target.sum())} row(s) with no"
                     f" {excerpt(card.target_name)} value")  # fmt: skip
        table = table[~no_target]
    cells = _typed(encoder, table, path)
    if encoder.missing == "drop":
        incomplete = cells.isna().to_numpy().any(axis=1)
        if incomplete.any():
            notes.append(f"data.missing: drop: dropped {int(incomplete.sum())} row(s) missing"
                         " a feature value")  # fmt: skip
            cells, table = cells[~incomplete], table[~incomplete]
    if table.empty:
        raise UsageError(f"{path}: no row left to measure")
    return encoder.transform(cells, str(path)), _targets(card, table, path), notes


def _typed(encoder, table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The feature cells read as in training: the same columns numeric or categorical."""
    return typed_features(table, encoder.names, path, missing_values=encoder.missing_values,
                          categorical=encoder.categorical, detect=False)  # fmt: skip


def _targets(card: ModelCard, table: pd.DataFrame, path: Path) -> np.ndarray:
    column = card.target_name
    if not TASKS[card.task].classes:
        return numeric_columns(table, [column], path)[:, 0]
    labels = table[column].str.strip()
    index = {str(label): i for i, label in enumerate(card.classes or [])}
    # Numeric labels are compared by value, so "1.0" in a file matches the class 1.
    numbers = pd.to_numeric(labels, errors="coerce")
    keys = []
    for text, number in zip(labels, numbers, strict=True):
        value = str(label_value(number)) if pd.notna(number) else text
        keys.append(value if value in index else text)
    unseen = sorted({k for k in keys if k not in index})
    if unseen:
        raise UsageError(
            f"{path}: column {excerpt(column)} has class label(s) the model never saw:"
            f" {excerpts(unseen)}; it knows: {excerpts(card.classes or [])}"
        )
    return np.array([index[k] for k in keys], dtype=np.int64)

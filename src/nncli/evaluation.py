"""Using a saved model: re-measure it on any split or CSV, and predict on new rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from nncli.checkpoint import ModelCard, load_checkpoint
from nncli.configfile import validate_config
from nncli.csvdata import numeric_columns, read_table
from nncli.data import prepare_data
from nncli.datasets import label_value
from nncli.errors import UsageError, excerpt, excerpts, hidden_content
from nncli.preprocessing import SPLITS
from nncli.runs import CHECKPOINT_FILE


def open_model(target: Path) -> tuple[nn.Sequential, ModelCard]:
    """A run folder (its model.safetensors) or a checkpoint file."""
    target = Path(target)
    if target.is_dir():
        checkpoint = target / CHECKPOINT_FILE
        if not checkpoint.exists():
            raise UsageError(
                f"{target}: no {CHECKPOINT_FILE} in this folder; is it a finished run?"
            )
        return load_checkpoint(checkpoint, follow_symlinks=False)  # nncli writes no symlinks
    if not target.exists():
        raise UsageError(f"{target}: no such run folder or checkpoint")
    return load_checkpoint(target)


def split_data(card: ModelCard, split: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Rebuild the run's split from its saved config: the rows `nncli train` measured."""
    config = validate_config(card.config, source="checkpoint config")
    try:
        # The checkpoint, not the user, names this file: its content stays out of messages.
        with hidden_content():
            prepared = prepare_data(config.data)
    except UsageError as exc:
        raise UsageError(f"cannot rebuild the run's data: {exc}") from None
    if card.data_fingerprint and card.data_fingerprint != prepared.fingerprint():
        raise UsageError(
            f"the data at {config.data.source} changed after this run trained on it, so its"
            " split cannot be rebuilt; measure a file with --data instead"
        )
    wanted = [s for s in SPLITS if s in prepared.raw] if split == "all" else [split]
    missing = [s for s in wanted if s not in prepared.raw]
    if missing:
        raise UsageError(
            f"--split {split}: this run has no {split} split (data.split.{split} is 0)"
        )
    return {s: prepared.raw[s] for s in wanted}


def evaluate(target: Path, *, split: str = "test", data: Path | None = None) -> dict:
    """`{"metrics": ..., "n_samples": ...}`; with split "all", metrics are keyed by split."""
    net, card = open_model(target)
    if data is not None:
        x, y, _ = read_labelled_csv(card, Path(data), require_target=True)
        return {"metrics": card.measure(net, x, y), "n_samples": len(x)}
    splits = split_data(card, split)
    metrics = {name: card.measure(net, x, y) for name, (x, y) in splits.items()}
    n_samples = sum(len(y) for _, y in splits.values())
    return {"metrics": metrics if split == "all" else metrics[split], "n_samples": n_samples}


def read_labelled_csv(
    card: ModelCard, path: Path, *, require_target: bool, id_column: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, pd.DataFrame]:
    """Features matched to the model by name (any order); the target, mapped to class indices."""
    table = read_table(path)
    columns = [str(c) for c in table.columns]
    ignored = card.config.get("data", {}).get("ignore_columns", [])
    allowed = {*card.feature_names, card.target_name, *ignored, *([id_column] if id_column else [])}
    present = set(columns)
    missing = [c for c in card.feature_names if c not in present]
    extra = [c for c in columns if c not in allowed]
    if id_column and id_column not in present:
        raise UsageError(f"{path}: --id-column {excerpt(id_column)} is not a column of this file")
    if missing or extra:
        parts = [f"missing feature column(s): {excerpts(missing)}"] if missing else []
        parts += [f"unexpected column(s): {excerpts(extra)}"] if extra else []
        raise UsageError(
            f"{path}: columns do not match the model ({'; '.join(parts)});"
            f" the model expects: {excerpts(card.feature_names)}"
        )
    has_target = card.target_name in present
    if require_target and not has_target:
        raise UsageError(f"{path}: missing target column {excerpt(card.target_name)}")
    x = numeric_columns(table, card.feature_names, path)
    y = _targets(card, table, path) if has_target else None
    return x, y, table


def _targets(card: ModelCard, table: pd.DataFrame, path: Path) -> np.ndarray:
    column = card.target_name
    if card.task == "regression":
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


def predict(
    target: Path, data: Path, *, id_column: str | None = None
) -> tuple[pd.DataFrame, dict | None]:
    """One output row per input row: [id], prediction, and a probability per class.

    Also returns metrics when the file has the target column, as `evaluate` would report them.
    """
    net, card = open_model(target)
    names = output_columns(card)
    if id_column in names:  # the copied ids would be overwritten by nncli's own column
        raise UsageError(
            f"--id-column {excerpt(id_column)}: predict writes a column of that name itself;"
            " rename that column in the file"
        )
    x, y, table = read_labelled_csv(card, Path(data), require_target=False, id_column=id_column)
    outputs = card.predict_raw(net, x)
    result = pd.DataFrame()
    if id_column:
        result[id_column] = table[id_column].to_numpy()
    if card.task == "classification":
        labels = np.asarray(card.classes, dtype=object)
        result[names[0]] = labels[outputs.argmax(axis=1)]
        for i, name in enumerate(names[1:]):
            result[name] = outputs[:, i]
    else:
        result[names[0]] = outputs
    metrics = card.measure(net, x, y) if y is not None else None
    return result, metrics


def output_columns(card: ModelCard) -> list[str]:
    """The columns predict writes: the prediction, and a probability per class."""
    if card.task == "classification":
        return ["prediction", *(f"probability_{label}" for label in card.classes or [])]
    return ["prediction"]

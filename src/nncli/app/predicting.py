"""Predicting with a saved model: a CSV file's rows or a split of the run's own data, every
problem of a file found at once, bad rows skipped on request, a binary decision threshold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nncli import phases
from nncli.app.choose import open_model
from nncli.app.saved import check_threshold, rebuild_data, split_tables
from nncli.config.data import looks_like_path
from nncli.data.csvdata import MAX_MAGNITUDE, is_missing, typed_features
from nncli.data.csvfile import read_table
from nncli.data.encoding import NUMERIC, Encoder
from nncli.errors import UsageError, excerpt, excerpts
from nncli.model.card import ModelCard
from nncli.tasks import TASKS
from nncli.train.threads import multiply_adds, use_auto_threads

REASON_COLUMN = "reason"  # with --skip-bad-rows: why a row has no prediction ('' if it has one)
THRESHOLD_COLUMN = "threshold"  # with --threshold: the threshold each label was decided at


@dataclass(frozen=True)
class Predictions:
    table: pd.DataFrame  # one row per input row, in input order
    skipped: int  # rows left without a prediction (--skip-bad-rows)
    notes: list[str]  # which model of a grid folder predicted


def predict(
    target: Path,
    data: Path | None = None,
    *,
    split: str | None = None,
    id_column: str | None = None,
    skip_bad_rows: bool = False,
    keep_features: bool = False,
    threshold: float | None = None,
    variant: str | None = None,
    seed: int | None = None,
) -> Predictions:
    """One output row per input row (of the CSV file `data`, or of the run's `split`): every
    column that is not a feature (`id_column` first; every column with `keep_features`), then
    the prediction and a probability per class. A target column is copied, never read."""
    if (data is None) == (split is None):
        raise UsageError("predict: pass either --data FILE or --split SPLIT")
    net, card, chosen = open_model(target, variant=variant, seed=seed)
    check_threshold(card, threshold)
    if split is not None:
        where, table, id_column = _split_table(card, split, id_column)
    else:
        where = str(data)
        table = read_table(Path(data))
    encoder = card.encoder
    columns = [str(c) for c in table.columns]
    missing = [c for c in encoder.names if c not in set(columns)]
    if missing:
        raise UsageError(f"{where}: missing feature column(s): {excerpts(missing)}; the model"
                         f" expects: {excerpts(encoder.names)}")  # fmt: skip
    if id_column is not None and id_column not in columns:
        raise UsageError(f"{where}: --id-column {excerpt(id_column)} is not a column of this file")
    names = output_columns(card, skip_bad_rows=skip_bad_rows, threshold=threshold)
    if id_column in names:  # the copied ids would be overwritten by nncli's own column
        raise UsageError(
            f"--id-column {excerpt(id_column)}: predict writes a column of that name itself;"
            " rename that column in the file"
        )
    features = set() if keep_features else set(encoder.names)
    kept = [c for c in columns if c not in features and c != id_column]
    clash = [c for c in kept if c in names]
    if clash:
        raise UsageError(f"{where}: column {excerpt(clash[0])}: predict writes a column of that"
                         " name itself; rename that column in the file")  # fmt: skip
    phases.mark("data")
    reasons, summary = row_problems(encoder, table)
    good = np.array([not r for r in reasons], dtype=bool)  # (N,)
    if summary and not skip_bad_rows:
        raise UsageError(
            f"{where}: {int((~good).sum())} of {len(table)} row(s) cannot be predicted:"
            f" {'; '.join(summary)}; pass --skip-bad-rows to predict the others"
        )
    outputs = _outputs(card, net, table[good], where)
    result = table[([id_column] if id_column else []) + kept].reset_index(drop=True)
    if TASKS[card.task].classes:
        labels = np.asarray(card.classes, dtype=object)
        chosen_class = outputs.argmax(axis=1)
        if threshold is not None:
            positive = card.positive
            chosen_class = np.where(outputs[:, positive] >= threshold, positive, 1 - positive)
        result[names[0]] = _filled(labels[chosen_class], good, None)
        for i, name in enumerate(names[1 : 1 + len(labels)]):
            result[name] = _filled(outputs[:, i], good, np.nan)
    else:
        result[names[0]] = _filled(outputs, good, np.nan)
    if threshold is not None:
        result[THRESHOLD_COLUMN] = threshold
    if skip_bad_rows:
        result[REASON_COLUMN] = reasons
    phases.mark("predicting")
    return Predictions(result, int((~good).sum()), [chosen] if chosen else [])


def output_columns(
    card: ModelCard, *, skip_bad_rows: bool = False, threshold: float | None = None
) -> list[str]:
    """The columns predict writes: the prediction, a probability per class, the threshold
    (with --threshold) and the reason a row was skipped (with --skip-bad-rows)."""
    names = ["prediction"]
    if TASKS[card.task].classes:
        names += [f"probability_{label}" for label in card.classes or []]
    names += [THRESHOLD_COLUMN] if threshold is not None else []
    return names + ([REASON_COLUMN] if skip_bad_rows else [])


def row_problems(encoder: Encoder, table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Per row, why the model cannot read it ('' when it can); and every problem of the file,
    counted by column: missing cells the model fills in none of, cells that are not a finite
    number, categories the training split lacks (unless they encode as zeros)."""
    reasons: list[list[str]] = [[] for _ in range(len(table))]
    summary = []

    def found(bad: np.ndarray, column: str, what: str, each: list[str] | None = None) -> None:
        rows = np.flatnonzero(bad)
        summary.append(f"column {excerpt(column)}: {what} ({len(rows)} row(s), first on line"
                       f" {table.index[rows[0]]})")  # fmt: skip
        for k, row in enumerate(rows):
            reasons[row].append(f"{column}: {each[k] if each else what}")

    for code in encoder.columns:
        text = table[code.name].astype(str).str.strip()
        missing = is_missing(text, encoder.missing_values)
        if code.fill is None and missing.any():
            found(missing, code.name, "missing value")
        if code.kind == NUMERIC:
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(numbers) <= MAX_MAGNITUDE) & ~missing
            if bad.any():
                cells = text[bad].tolist()
                found(bad, code.name, f"not a finite number: {excerpts(sorted(set(cells)))}",
                      [f"not a finite number: {excerpt(c)}" for c in cells])  # fmt: skip
        elif encoder.unknown == "error":
            unseen = ~missing & ~text.isin(set(code.categories)).to_numpy()
            if unseen.any():
                cells = text[unseen].tolist()
                shown = excerpts(sorted(set(cells)))
                verb = "is" if len(set(cells)) == 1 else "are"
                each = [f"category {excerpt(c)} is not in the training split" for c in cells]
                found(unseen, code.name, f"category {shown} {verb} not in the training split", each)
    return ["; ".join(r) for r in reasons], summary


def _outputs(card: ModelCard, net, table: pd.DataFrame, where: str) -> np.ndarray:
    """The model's outputs for rows it can read: (N, C) probabilities, or (N,) values."""
    encoder = card.encoder
    if table.empty:  # every row skipped
        return np.zeros((0, len(card.classes or [])) if TASKS[card.task].classes else 0)
    cells = typed_features(table, encoder.names, Path(where), detect=False,
                           missing_values=encoder.missing_values,
                           categorical=encoder.categorical)  # fmt: skip
    use_auto_threads(multiply_adds(card.sizes, len(table)))
    return card.predict_raw(net, encoder.transform(cells, where))


def _filled(values: np.ndarray, good: np.ndarray, blank: object) -> np.ndarray:
    """`values` of the good rows spread over every row, `blank` in the others."""
    out = np.full(len(good), blank, dtype=object if blank is None else np.float64)
    out[good] = values
    return out


def _split_table(
    card: ModelCard, split: str, id_column: str | None
) -> tuple[str, pd.DataFrame, str]:
    """The run's `split`, rebuilt, as predict reads a file, its rows' line (or position) first."""
    if id_column is not None:
        raise UsageError("--id-column: with --split, each row's line (or row) comes first")
    prepared = rebuild_data(card)
    if split not in prepared.rows:
        raise UsageError(
            f"--split {split}: this run has no {split} split (data.split.{split} is 0)"
        )
    is_file = looks_like_path(card.config["data"]["source"])
    name = "line" if is_file else "row"
    table = split_tables(card, prepared)[split]
    if name in table.columns:
        raise UsageError(f"the run's data has a column {excerpt(name)}, which predict --split"
                         " writes itself; use --data with its exported split instead")  # fmt: skip
    table = table if is_file else table.astype(str)  # a built-in set's numbers, as exact text
    table.insert(0, name, table.index)
    return f"the run's {split} split", table, name

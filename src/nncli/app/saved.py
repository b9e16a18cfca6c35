"""Using a saved model: re-measure it on any split or CSV, and predict on new rows."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nncli import phases
from nncli.app.choose import open_model
from nncli.config.data import looks_like_path
from nncli.config.loading import validate_config, without_retired_keys
from nncli.data.prepared import PreparedData, prepare_data
from nncli.data.preprocessing import SPLITS
from nncli.errors import UsageError, hidden_content
from nncli.fileio import atomic_write_all
from nncli.model.card import ModelCard, positive_name
from nncli.tasks import TASKS
from nncli.train.threads import multiply_adds, use_auto_threads

if TYPE_CHECKING:  # pandas only where a table is read or written: 0.3 s of evaluate's start
    import pandas as pd


def rebuild_data(card: ModelCard) -> PreparedData:
    """Rebuild the run's data and split from its saved config: the rows `nncli train` used."""
    config = validate_config(without_retired_keys(card.config), source="checkpoint config")
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
    return prepared


def split_data(card: ModelCard, split: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The run's split, rebuilt: the rows `nncli train` measured."""
    prepared = rebuild_data(card)
    wanted = [s for s in SPLITS if s in prepared.raw] if split == "all" else [split]
    missing = [s for s in wanted if s not in prepared.raw]
    if missing:
        raise UsageError(
            f"--split {split}: this run has no {split} split (data.split.{split} is 0)"
        )
    return {s: prepared.raw[s] for s in wanted}


@dataclass(frozen=True)
class Evaluation:
    """A saved model measured again: its metrics by split (or by the measured file's name)."""

    metrics: dict[str, dict]  # split (or file name) -> metric -> value
    n_samples: int  # rows measured, over every split
    notes: list[str]  # on a file: the rows dropped, as training would have dropped them
    task: str
    classes: list | None
    by_split: bool  # measured on every split (`--split all`)
    threshold: float | None = None  # a binary model's labels decided at it (--threshold)
    positive_class: object = None  # the class binary scores take as positive (None: no such)
    class_order: list | None = None  # data.class_order: how its tables list the classes

    def to_json(self) -> dict:
        """What `nncli evaluate --json` prints: metrics keyed by split only for `--split all`;
        `threshold` only when one was given."""
        metrics = self.metrics if self.by_split else next(iter(self.metrics.values()))
        found = {"metrics": metrics, "n_samples": self.n_samples, "notes": self.notes}
        if self.positive_class is not None:
            found["positive_class"] = self.positive_class
        return found if self.threshold is None else found | {"threshold": self.threshold}


def evaluate(
    target: Path,
    *,
    split: str = "test",
    data: Path | None = None,
    threshold: float | None = None,
    variant: str | None = None,
    seed: int | None = None,
) -> Evaluation:
    """Measure a run's model (or a checkpoint, or a grid folder's model) on a split of its data,
    every split (`all`), or the rows of a CSV file (`data`); a binary model's labels decided at
    `threshold` when given."""
    net, card, chosen = open_model(target, variant=variant, seed=seed)
    check_threshold(card, threshold)
    measure = partial(card.measure, net, threshold=threshold)
    positive = positive_name(card.config.get("data", {}).get("positive_class"), card.classes)
    order = card.config.get("data", {}).get("class_order")
    result = partial(Evaluation, task=card.task, classes=card.classes, threshold=threshold,
                     positive_class=positive, class_order=order)  # fmt: skip
    first = [chosen] if chosen else []
    if data is not None:
        from nncli.app.labelled import read_labelled_csv  # pandas: only for a CSV

        x, y, notes = read_labelled_csv(card, Path(data))
        phases.mark("data")
        use_auto_threads(multiply_adds(card.sizes, len(x)))  # one forward pass over the rows
        metrics = {Path(data).name: measure(x, y)}
        phases.mark("measuring")
        return result(metrics, len(x), first + notes, by_split=False)
    splits = split_data(card, split)
    phases.mark("data")
    use_auto_threads(multiply_adds(card.sizes, max(len(y) for _, y in splits.values())))
    metrics = {name: measure(x, y) for name, (x, y) in splits.items()}
    phases.mark("measuring")
    n_samples = sum(len(y) for _, y in splits.values())
    return result(metrics, n_samples, first, by_split=split == "all")


def check_threshold(card: ModelCard, threshold: float | None) -> None:
    """--threshold applies to a binary classifier, and is a probability."""
    if threshold is None:
        return
    n_classes = len(card.classes or []) if TASKS[card.task].classes else 0
    if n_classes != 2:
        kind = f"{n_classes} classes" if n_classes else "a regression model"
        raise UsageError(f"--threshold: applies to a binary classifier; this one has {kind}")
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold: must be a probability from 0 to 1, got {threshold:g}")


def export_splits(target: Path, out: Path, *, force: bool = False) -> dict[str, int]:
    """Write `out/train.csv`, `val.csv`, `test.csv`: each split's rows of the run's data, as the
    CSV file holds them (every column, in file order), or a built-in set's features and target.
    Returns the rows written per split."""
    _, card, _ = open_model(target)
    prepared = rebuild_data(card)
    phases.mark("data")
    out = Path(out).expanduser()
    files = {split: out / f"{split}.csv" for split in prepared.rows}
    existing = [str(f) for f in files.values() if f.exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]}: already exists; pass --force to overwrite it")
    texts = {
        files[split]: part.to_csv(index=False, lineterminator="\n").encode("utf-8")
        for split, part in split_tables(card, prepared).items()
    }
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the folder: {exc.strerror}") from None
    try:  # every file or none: a set with one split missing or stale would mislead
        atomic_write_all(texts, named_by_user=True)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return {split: len(rows) for split, rows in prepared.rows.items()}


def split_tables(card: ModelCard, prepared: PreparedData) -> dict[str, pd.DataFrame]:
    """Each split's rows of the run's data: a CSV source's rows with every column, in file
    order, indexed by line number; or a built-in set's features and target by position."""
    import pandas as pd

    from nncli.data.csvfile import read_table

    source = prepared.dataset
    config = card.config["data"]
    if looks_like_path(config["source"]):
        with hidden_content():
            table = read_table(Path(config["source"]), config.get("delimiter", "auto"))
        return {split: table.loc[rows] for split, rows in prepared.rows.items()}
    parts = {}
    for split, rows in prepared.rows.items():
        x, y = prepared.raw[split]
        part = pd.DataFrame(x, columns=source.feature_names, index=rows)
        labels = np.asarray(source.classes, dtype=object)[y] if source.classes else y
        part[source.target_name] = labels
        parts[split] = part
    return parts

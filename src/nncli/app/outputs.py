"""What a finished run leaves in its folder: checkpoints, histories, summaries and plots."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nncli import phases
from nncli.app.figures import grid_figures, train_figures
from nncli.config.data import looks_like_path
from nncli.config.schema import Config
from nncli.errors import WriteError
from nncli.fileio import atomic_write_json, atomic_write_text, to_json
from nncli.metrics import DETAILS
from nncli.report import html as htmlreport
from nncli.report.drawing import Drawer
from nncli.runs import layout as runs

if TYPE_CHECKING:
    from nncli.data.prepared import PreparedData
    from nncli.train.stack import ModelFit
    from nncli.train.state import EpochReport


class Outputs:
    """Where a trained run's files go, asked for one file at a time just before it is written:
    a stop request (SIGTERM, Ctrl-C) then ends the run there, every file so far whole, rather
    than when all are written (`OutputsStopped`; the run folder records it resumable)."""

    def __init__(self, folder: Path, stop: Callable[[], bool] | None = None):
        self.folder = Path(folder)
        self.stop = stop

    def __call__(self, *names: str) -> Path:
        """The path of `names` in the folder, unless a stop was asked for."""
        if self.stop is not None and self.stop():
            from nncli.train.state import OutputsStopped  # torch: imported once a run trained

            raise OutputsStopped("/".join(names))
        return self.folder.joinpath(*names)


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    atomic_write_text(path, _csv(history))


class HistoryLog:
    """`history.csv` written while training (as Keras' CSVLogger writes it), so `tail -f` follows
    it; called with each `EpochReport` of one model.

    The first epoch's report writes the file anew: the rows before it (none, or those a resumed
    run's state holds) and its own, so a run resumed from a state saved before its last epochs
    continues the file without repeating them. Each later epoch appends its row. The finished
    run's `write_history` writes the same bytes.
    """

    def __init__(self, path: Path, rows: list[dict[str, float]]):
        self.path = path
        # A copy: a resumed run's rows are its record's history, which the engine appends to.
        self.rows_before: list[dict[str, float]] | None = list(rows)  # None once written

    def __call__(self, report: EpochReport) -> None:
        row = {"epoch": report.epoch, "train_loss": report.train_loss[0]}
        row[f"train_{report.metric}"] = report.train_metric[0]
        if report.val_loss is not None and report.val_metric is not None:
            row |= {"val_loss": report.val_loss[0], f"val_{report.metric}": report.val_metric[0]}
        if self.rows_before is not None:
            write_history(self.path, [*self.rows_before, row])
            self.rows_before = None
            return
        try:  # never through a symlink: nothing in a run folder is written through one
            with open(self.path, "a", encoding="utf-8", opener=_no_follow) as handle:
                handle.write(_csv([row], header=False))
        except OSError as exc:
            raise WriteError(f"{self.path}: cannot write: {exc.strerror}") from None


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _csv(rows: list[dict], *, header: bool = True) -> str:
    buffer = io.StringIO()
    if rows:
        # Every row's columns, in order of first appearance: a sweep of model.depth has more
        # grad_norm_layer columns for deeper variants (restval leaves the others' cells empty).
        columns = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        if header:
            writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def write_train_outputs(
    out: Outputs,
    config: Config,
    prepared: PreparedData,
    model: ModelFit,
    summary: dict,
    drawer: Drawer | None = None,
) -> None:
    """model.safetensors, history.csv, metrics.json, split.json, loss.png; for regression
    errors.png, and fit.png for one feature; report.html. The `drawer` draws the figures (in
    its workers, while this writes the rest); without one they are drawn here."""
    from nncli.runs.checkpoint import save_checkpoint  # torch: the model is trained

    drawer = drawer or Drawer()
    train_figures(drawer, out, config, prepared, model)
    save_checkpoint(out(runs.CHECKPOINT_FILE), model.net, model.card)
    # Compact: indented, every one of (possibly millions of) row numbers gets a line.
    atomic_write_text(out(runs.SPLIT_FILE), to_json(split_record(config, prepared)) + "\n")
    write_history(out(runs.HISTORY_FILE), model.record.history)
    atomic_write_json(out(runs.METRICS_FILE), summary)
    phases.mark("files")  # the figures, asked for first, are drawn meanwhile
    drawer.wait()
    phases.mark("figures")
    htmlreport.write_report(out(runs.REPORT_FILE).parent)  # last: it embeds the figures


def split_record(config: Config, prepared: PreparedData) -> dict:
    """Which rows of the data each split holds, for split.json."""
    csv_source = looks_like_path(config.data.source)
    return {
        "source": config.data.source,
        "rows": "line" if csv_source else "position",
        **{split: rows.tolist() for split, rows in prepared.rows.items()},
    }


def write_grid_outputs(
    out: Outputs,
    grid,
    prepared: PreparedData,
    fits: list[ModelFit],
    results: list[dict],
    summary: dict,
    *,
    rows: list[dict],
    title: str,
    diagnostics: bool,
    drawer: Drawer | None = None,
) -> None:
    """summary.json/.csv, models.csv, history/ and models/ per model, the plots, report.html.
    The `drawer` draws the figures (in its workers, while this writes the rest); without one
    they are drawn here."""
    from nncli.runs.checkpoint import save_checkpoint  # torch: the models are trained

    drawer = drawer or Drawer()
    grid_figures(drawer, out, grid, prepared, fits, results, summary, title, diagnostics)
    atomic_write_json(out(runs.SUMMARY_FILE), summary)
    atomic_write_text(out(runs.SUMMARY_CSV_FILE), _csv(rows))
    atomic_write_text(out(runs.MODELS_CSV_FILE), _csv(_model_rows(grid, fits)))
    for folder in (runs.HISTORY_DIR, runs.MODELS_DIR):
        (out.folder / folder).mkdir(exist_ok=True)
    for model, model_fit in zip(grid.models, fits, strict=True):
        label = grid.label(model)
        write_history(out(runs.HISTORY_DIR, runs.history_file(label)), model_fit.record.history)
        save_checkpoint(out(runs.MODELS_DIR, runs.model_file(label)), model_fit.net, model_fit.card)
    phases.mark("files")  # the figures, asked for first, are drawn meanwhile
    drawer.wait()
    phases.mark("figures")
    htmlreport.write_report(out(runs.REPORT_FILE).parent)  # last: it embeds the figures


def flat_row(first: dict, record: dict) -> dict:
    """A results record as one CSV row: mean and std of every statistic."""
    row = dict(first)
    row["seeds"] = " ".join(map(str, record["seeds"]))
    for split, metrics in record["metrics"].items():
        for name, stats in metrics.items():
            row[f"{split}_{name}_mean"], row[f"{split}_{name}_std"] = stats["mean"], stats["std"]
    for key in ("best_epoch", "grad_ratio", "dead_fraction", "saturated_fraction"):
        if key in record:
            row[f"{key}_mean"], row[f"{key}_std"] = record[key]["mean"], record[key]["std"]
    for layer, norm in enumerate(record.get("grad_norms", []), start=1):
        row[f"grad_norm_layer{layer}"] = norm
    row["learned"], row["diverged"] = record["learned"], record["diverged"]
    row["chosen"] = record.get("chosen") or ""  # best on validation, or why never a candidate
    return row


def _model_rows(grid, fits: list[ModelFit]) -> list[dict]:
    """One row per model: its values, seed, how training went, every split's metrics."""
    rows = []
    for model, f in zip(grid.models, fits, strict=True):
        row = {**grid.values[model.variant], "seed": model.seed, "file": grid.label(model)}
        row |= {"best_epoch": f.record.best_epoch, "epochs_run": f.record.epochs_run}
        row["diverged_at"] = (
            "" if f.record.diverged is None else "epoch {}, step {}".format(*f.record.diverged)
        )
        for split, metrics in f.metrics.items():
            row[f"{split}_loss"] = f.losses.get(split)
            row |= {f"{split}_{k}": v for k, v in metrics.items() if k not in DETAILS}
        rows.append(row)
    return rows

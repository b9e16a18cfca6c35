"""What `nncli tune` keeps and writes: each finished trial told with its scores, this folder's
best trial's model kept as it changes (model.safetensors and history.csv, as `nncli train`
writes them, so `nncli evaluate` and `predict` read the folder), and at the end trials.csv,
summary.json (what --json prints), the figures and report.html.

The best trial is the complete trial of lowest validation loss in the whole study (every
process's); its test scores stand beside it, with the input-blind baseline's.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from nncli.app.outputs import Outputs, _csv, write_history
from nncli.app.study import DIVERGED, INTERRUPTED, Search
from nncli.errors import RunFailedError
from nncli.fileio import atomic_write_json, atomic_write_text
from nncli.grid.session import Session
from nncli.report import html as htmlreport
from nncli.report import plots, tuneplots
from nncli.report.drawing import Drawer
from nncli.runs import layout as runs
from nncli.runs.checkpoint import save_checkpoint

TOP = 10  # trials the table and summary.json show, best first


class Keeper:
    """Tells each finished trial, and keeps this folder's best complete trial's model."""

    def __init__(self, folder: Path, search: Search):
        self.folder = folder
        self.search = search
        best = min(search.complete_here(), key=lambda t: t.value, default=None)
        self.best = None if best is None else (best.value, best.number)

    def tell(self, trial, fits: list) -> None:
        """Tell a trial its scores (its seeds' means); keep its first seed's model if it is
        this folder's best so far."""
        first = fits[0]
        metric = first.headline
        diverged = any(f.record.diverged is not None for f in fits)
        scores = {
            "epochs": max(f.record.epochs_run for f in fits),
            "kept_epoch": first.record.kept_epoch,
            "best_epoch": first.record.best_epoch,
        }
        for split in ("val", "test"):
            if split in first.losses:
                scores[f"{split}_loss"] = _mean([f.losses[split] for f in fits])
                scores[f"{split}_{metric}"] = _mean([f.metrics[split].get(metric) for f in fits])
        if scores.get("val_loss") is None:
            diverged = True
        state = self.search.tell(trial, scores, DIVERGED if diverged else None)
        if state == "COMPLETE" and (self.best is None or scores["val_loss"] < self.best[0]):
            save_checkpoint(self.folder / runs.CHECKPOINT_FILE, first.net, first.card)
            write_history(self.folder / runs.HISTORY_FILE, first.record.history)
            self.best = (scores["val_loss"], trial.number)

    def best_line(self) -> str | None:
        """`best so far: trial 12, val loss 0.2031 (lr=0.05)`, once a trial completed."""
        try:
            best = self.search.study.best_trial
        except ValueError:
            return None
        params = ", ".join(
            f"{key.rsplit('.', 1)[-1]}={_shown(v)}" for key, v in best.params.items()
        )
        return f"best so far: trial {best.number}, val loss {best.value:.4g} ({params})"


def write_tune_outputs(
    folder,
    search: Search,
    keeper: Keeper,
    spec: dict,
    data,
    base,
    device: str,
    storage: str,
    name: str,
    session: Session,
) -> dict:
    """trials.csv, the figures, summary.json and report.html; return the summary."""
    from nncli.model.card import ModelCard
    from nncli.train.baseline import baseline_metrics
    from nncli.train.choice import headline_of

    out = Outputs(folder.path, session.should_stop)
    rows = search.rows()
    atomic_write_text(out(runs.TRIALS_CSV_FILE), _csv(rows))
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    if not complete:
        states = {s: sum(r["state"] == s for r in rows) for s in ("PRUNED", "FAIL")}
        raise RunFailedError(
            f"no trial completed ({states['PRUNED']} pruned or diverged, {states['FAIL']} failed:"
            f" cut short or refused); the trials are in {folder.path / runs.TRIALS_CSV_FILE}"
        )
    metric = headline_of(base.training.headline_metric, data.task)
    best = min(complete, key=lambda r: r["val_loss"])  # validation chooses; test never does
    blind = baseline_metrics(data, ModelCard.describe(base, data).positive)
    here = keeper.best is not None and keeper.best[1] == best["trial"]
    counts = {
        state.lower(): sum(r["state"] == state for r in rows)
        for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
    }
    counts["diverged"] = sum(r["reason"] == DIVERGED for r in rows)  # told pruned
    counts["interrupted"] = sum(r["reason"] == INTERRUPTED for r in rows)  # failed, asked again
    importances = search.importances()
    warnings = []
    value, baseline = best.get(f"val_{metric}"), blind.get("val", {}).get(metric)
    if value is not None and baseline is not None and not _beats(value, baseline, metric):
        warnings.append(
            f"the best trial did not learn: val {metric} {value:.4f}, the"
            f" input-blind baseline {baseline:.4f}"
        )
    if not here:
        where = (
            "this folder trained none"
            if keeper.best is None
            else (f"model.safetensors here is trial {keeper.best[1]}, this folder's best")
        )
        warnings.append(
            f"the best trial ({best['trial']}) was trained by {best['worker']}; {where}"
        )
    for warning in warnings:
        session.warn(warning)
    summary = {
        "kind": "tune",
        "out_dir": str(folder.path),
        "task": data.task,
        "device": device,
        "study": name,
        "storage": storage,
        "space": spec["space"],
        "trials": spec["trials"],
        "counts": counts,
        "objective": "val_loss",
        "headline": metric,
        "best": _best_record(best, search, metric) | {"model_here": here},
        "baseline": {
            split: {metric: scores.get(metric)}
            for split, scores in blind.items()
            if split != "train"
        },
        "metrics": {
            split: {"loss": best.get(f"{split}_loss"), metric: best.get(f"{split}_{metric}")}
            for split in ("val", "test")
            if f"{split}_loss" in best
        },
        "top": [
            _best_record(r, search, metric)
            for r in sorted(complete, key=lambda r: r["val_loss"])[:TOP]
        ],
        "importances": importances if isinstance(importances, dict) else None,
        "importances_note": importances if isinstance(importances, str) else None,
        "warnings": warnings,
    }
    logs = {key: distribution.log for key, distribution in search.space.items()}
    _figures(session.figures or Drawer(), out, rows, logs, best, importances, keeper, base, data,
             metric)  # fmt: skip
    atomic_write_json(out(runs.SUMMARY_FILE), summary)
    folder.set_status("running", warnings=warnings)  # before report.html reads it
    htmlreport.write_report(out(runs.REPORT_FILE).parent)  # last: it embeds the figures
    out(runs.RUN_FILE)  # a stop asked for by now leaves the run interrupted, resumable
    return summary


def _figures(
    drawer, out: Outputs, rows, logs, best, importances, keeper: Keeper, base, data, metric
) -> None:
    """optimization_history.png, loss_by_value.png (`logs`: whether each searched key was
    drawn on a log scale), param_importances.png (when there are importances), and the loss
    curves of this folder's best trial (loss.png)."""
    from nncli.app.figures import loss_name
    from nncli.metrics import headline_metric

    drawer.draw(
        tuneplots.plot_optimization_history,
        out(runs.OPTIMIZATION_PLOT),
        [(r["trial"], r["state"], r["val_loss"]) for r in rows],
        title=str(base.name),
    )
    drawer.draw(
        tuneplots.plot_loss_by_value,
        out(runs.LOSS_BY_VALUE_PLOT),
        logs,
        [({key: r[key] for key in logs if r.get(key) is not None}, r["state"], r["val_loss"])
         for r in rows],
        best={key: best[key] for key in logs} | {"val_loss": best["val_loss"]},
        title=str(base.name),
    )  # fmt: skip
    if isinstance(importances, dict):
        drawer.draw(
            tuneplots.plot_importances, out(runs.IMPORTANCE_PLOT), importances, title=str(base.name)
        )
    history_file = out.folder / runs.HISTORY_FILE
    if keeper.best is not None and history_file.exists():
        number = keeper.best[1]
        row = next(r for r in rows if r["trial"] == number)
        drawer.draw(
            plots.plot_learning_curves,
            out(runs.LOSS_PLOT_FILE),
            _read_history(history_file),
            title=f"{base.name}: trial {number}",
            loss_name=loss_name(data),
            metric=headline_metric(data.task),
            kept_epoch=int(row["kept_epoch"]),
            best_epoch=int(row["best_epoch"]),
        )
    drawer.wait()


def _best_record(row: dict, search: Search, metric: str) -> dict:
    """A trial as summary.json shows it: its number, parameters and scores."""
    return {
        "trial": row["trial"],
        "params": {key: row.get(key) for key in search.space},
        "val": {"loss": row.get("val_loss"), metric: row.get(f"val_{metric}")},
        "test": {"loss": row.get("test_loss"), metric: row.get(f"test_{metric}")},
        "epochs": row.get("epochs"),
        "worker": row.get("worker"),
    }


def _read_history(path: Path) -> list[dict[str, float]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _beats(value: float, baseline: float, metric: str) -> bool:
    from nncli.train.choice import beats

    return beats(value, baseline, metric)


def _mean(values: list[Any]) -> float | None:
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    return sum(values) / len(values)


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

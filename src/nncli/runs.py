"""Run folders: created once, never reused, and written file by file atomically."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from nncli.config import Config, dump_config, read_yaml_mapping
from nncli.errors import UsageError, excerpt, excerpts
from nncli.fileio import atomic_write_json, atomic_write_text, read_json_mapping

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "model.safetensors"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
LOSS_PLOT_FILE = "loss.png"
FIT_PLOT_FILE = "fit.png"  # 1-D regression only: the learned function, beyond the data too
LAST_STATE_FILE = "last.safetensors"  # resumable training state; removed when a run finishes
BEST_FILE = "best.safetensors"  # with early stopping, the best weights so far; removed likewise


def create_run_dir(config: Config, out: Path | None, *, kind: str = "") -> Path:
    """`out` exactly when given (new or empty), else `<output.dir>/<name>[-kind]-<time>`."""
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UsageError(f"{path}: --out must be a new or empty folder; it would overwrite")
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        label = "-".join(filter(None, [config.name or "run", kind]))
        base = Path(config.output.dir) / f"{label}-{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the run folder: {exc.strerror}") from None
    return path


def write_config(run_dir: Path, config: Config) -> None:
    atomic_write_text(run_dir / CONFIG_FILE, dump_config(config))


def write_status(run_dir: Path, status: str, **details: object) -> None:
    """run.json: status (running, finished, failed, interrupted) and when it changed."""
    path = run_dir / RUN_FILE
    record = read_json_mapping(path) if path.exists() else {}
    now = datetime.now().isoformat(timespec="seconds")
    record.setdefault("created", now)
    record.update({"status": status, "updated": now, **details})
    atomic_write_json(path, record)


def write_history(
    run_dir: Path, history: list[dict[str, float]], *, name: str = HISTORY_FILE
) -> None:
    buffer = io.StringIO()
    if history:
        writer = csv.DictWriter(buffer, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    atomic_write_text(run_dir / name, buffer.getvalue())


def write_metrics(run_dir: Path, summary: dict) -> None:
    atomic_write_json(run_dir / METRICS_FILE, summary)


# Metrics where a larger value is better; runs sort best first.
HIGHER_IS_BETTER = {"accuracy", "f1", "precision", "recall", "r2"}


def list_runs(directory: Path, *, sort: str | None = None) -> list[dict]:
    """One record per run folder under `directory` (those with a run.json), newest first."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such runs folder")
    records = []
    for run_json in directory.glob(f"*/{RUN_FILE}"):
        run_dir = run_json.parent
        try:
            record = _run_record(run_dir, run_json)
        except (UsageError, OSError, ValueError, TypeError, AttributeError, KeyError):
            continue  # not a readable run folder: skip it rather than fail the listing
        records.append(record)
    records.sort(key=lambda r: str(r["created"] or ""), reverse=True)
    if sort is not None:
        known = {name for r in records for name in r["metrics"]}
        if records and sort not in known:
            raise UsageError(
                f"--sort: no run has metric {excerpt(sort)}; known: {excerpts(sorted(known))}"
            )
        sign = -1 if sort in HIGHER_IS_BETTER else 1
        records.sort(key=lambda r: _sort_key(r["metrics"].get(sort), sign))
    return records


def _sort_key(value: object, sign: int) -> tuple[bool, float]:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return (number is None, sign * (number or 0))


def _run_record(run_dir: Path, run_json: Path) -> dict:
    """What `nncli runs` shows of one folder; raises on anything malformed."""
    from nncli.metrics import headline_metric

    status = read_json_mapping(run_json)
    config = _mapping(_read_yaml(run_dir / CONFIG_FILE))
    comparing = status.get("kind") == "compare"
    summary = _mapping(_read_json(run_dir / ("summary.json" if comparing else METRICS_FILE)))
    metrics = summary.get("metrics", {})  # a comparison has no single model's metrics
    split = "test" if "test" in metrics else "val" if "val" in metrics else "train"
    task = summary.get("task")
    activation = config.get("model", {}).get("activation")
    if comparing:
        compared = [r.get("activation") for r in summary.get("results", [])]
        activation = f"compare: {','.join(compared)}" if compared else "compare"
    return {
        "run": run_dir.name,
        "path": str(run_dir),
        "kind": status.get("kind", "train"),
        "created": status.get("created"),
        "status": status.get("status"),
        "task": task,
        "source": Path(str(config.get("data", {}).get("source", ""))).name or None,
        "activation": activation,
        "epochs_run": summary.get("epochs_run"),
        "split": split if metrics else None,
        "headline": headline_metric(task) if task else None,
        "metrics": {k: v for k, v in metrics.get(split, {}).items() if k != "confusion_matrix"},
    }


def _mapping(value: object) -> dict:
    if not isinstance(value, dict):
        raise TypeError("not a mapping")
    return value


def _read_json(path: Path) -> dict:
    return read_json_mapping(path) if path.exists() else {}


def _read_yaml(path: Path) -> dict:
    return read_yaml_mapping(path, follow_symlinks=False) if path.exists() else {}

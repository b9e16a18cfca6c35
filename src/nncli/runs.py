"""Run folders: created once, never reused, and written file by file atomically."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

from nncli.config import Config, dump_config
from nncli.errors import UsageError
from nncli.fileio import atomic_write_json, atomic_write_text

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "model.safetensors"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
LOSS_PLOT_FILE = "loss.png"


def create_run_dir(config: Config, out: Path | None) -> Path:
    """`out` exactly when given (it must be new or empty), else `<output.dir>/<name>-<time>`."""
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UsageError(f"{path}: --out must be a new or empty folder; it would overwrite")
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(config.output.dir) / f"{config.name or 'run'}-{stamp}"
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
    record = json.loads(path.read_text()) if path.exists() else {}
    now = datetime.now().isoformat(timespec="seconds")
    record.setdefault("created", now)
    record.update({"status": status, "updated": now, **details})
    atomic_write_json(path, record)


def write_history(run_dir: Path, history: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    if history:
        writer = csv.DictWriter(buffer, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    atomic_write_text(run_dir / HISTORY_FILE, buffer.getvalue())


def write_metrics(run_dir: Path, summary: dict) -> None:
    atomic_write_json(run_dir / METRICS_FILE, summary)

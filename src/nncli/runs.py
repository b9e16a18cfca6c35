"""What a run folder holds, by file name, and the listing of run folders (`nncli runs`)."""

from __future__ import annotations

from pathlib import Path

from nncli.configfile import read_yaml_mapping
from nncli.errors import UsageError, excerpt, excerpts
from nncli.fileio import read_json_mapping

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "model.safetensors"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
LOSS_PLOT_FILE = "loss.png"
FIT_PLOT_FILE = "fit.png"  # 1-D regression only: the learned function, beyond the data too
LAST_STATE_FILE = "last.safetensors"  # resumable training state; removed when a run finishes
BEST_FILE = "best.safetensors"  # with early stopping, the best weights so far; removed likewise
# Sweeps and comparisons
SUMMARY_FILE = "summary.json"  # what --json prints
SUMMARY_CSV_FILE = "summary.csv"  # one row per variant
MODELS_CSV_FILE = "models.csv"  # one row per model (variant x seed)
HISTORY_DIR = "history"  # <label>.csv per model
MODELS_DIR = "models"  # <label>.safetensors per model


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
        from nncli.metrics import METRICS

        sign = -1 if sort in METRICS and METRICS[sort].higher_is_better else 1
        records.sort(key=lambda r: _sort_key(r["metrics"].get(sort), sign))
    return records


def _sort_key(value: object, sign: int) -> tuple[bool, float]:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return (number is None, sign * (number or 0))


def _run_record(run_dir: Path, run_json: Path) -> dict:
    """What `nncli runs` shows of one folder; raises on anything malformed."""
    from nncli.metrics import DETAILS, headline_metric

    status = read_json_mapping(run_json)
    config = _mapping(_read_yaml(run_dir / CONFIG_FILE))
    comparing = status.get("kind") in ("compare", "sweep")
    summary = _mapping(_read_json(run_dir / (SUMMARY_FILE if comparing else METRICS_FILE)))
    metrics = summary.get("metrics", {})
    task = summary.get("task")
    activation = config.get("model", {}).get("activation")
    if comparing:  # no single model: show the best variant's means
        best, metrics = _best_variant(summary.get("results", []), task)
        kind = "compare" if status.get("kind") == "compare" else "sweep"
        activation = f"{kind}, best: {best}" if best else kind
    split = "test" if "test" in metrics else "val" if "val" in metrics else "train"
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
        "metrics": {k: v for k, v in metrics.get(split, {}).items() if k not in DETAILS},
    }


def _best_variant(results: list, task: str | None) -> tuple[str | None, dict]:
    """A sweep's or comparison's variant with the best mean headline test (or last) metric,
    and its mean metrics by split."""
    from nncli.grid import variant_label
    from nncli.metrics import METRICS, headline_metric

    if not task or not results:
        return None, {}
    headline = headline_metric(task)
    sign = -1 if METRICS[headline].higher_is_better else 1

    def means(record: dict) -> dict:
        return {
            split: {name: stats.get("mean") for name, stats in by_metric.items()}
            for split, by_metric in record.get("metrics", {}).items()
        }

    def score(record: dict) -> tuple[bool, float]:
        by_split = means(record)
        split = next((s for s in ("test", "val", "train") if s in by_split), None)
        value = by_split.get(split, {}).get(headline) if split else None
        return (value is None, sign * (value or 0.0))

    best = min(results, key=score)
    label = best.get("activation") or variant_label(best.get("values", {}))
    return str(label), means(best)


def _mapping(value: object) -> dict:
    if not isinstance(value, dict):
        raise TypeError("not a mapping")
    return value


def _read_json(path: Path) -> dict:
    return read_json_mapping(path) if path.exists() else {}


def _read_yaml(path: Path) -> dict:
    return read_yaml_mapping(path, follow_symlinks=False) if path.exists() else {}

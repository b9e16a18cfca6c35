"""What a run folder holds, by file name: the one place a run folder's layout is written down."""

from __future__ import annotations

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "model.safetensors"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
LOCK_FILE = ".lock"  # held (flock) by the process that runs the folder: runs/lock.py
LOSS_PLOT_FILE = "loss.png"
FIT_PLOT_FILE = "fit.png"  # 1-D regression only: the learned function, beyond the data too
ERRORS_PLOT_FILE = "errors.png"  # regression: predicted vs true, percentage error vs |target|
REPORT_FILE = "report.html"  # every run, sweep and comparison: the folder as one page
LAST_STATE_FILE = "last.safetensors"  # resumable training state; removed when a run finishes
BEST_FILE = "best.safetensors"  # with early stopping, the best weights so far; removed likewise
# Sweeps and comparisons
SUMMARY_FILE = "summary.json"  # what --json prints
SUMMARY_CSV_FILE = "summary.csv"  # one row per variant
MODELS_CSV_FILE = "models.csv"  # one row per model (variant x seed)
HISTORY_DIR = "history"  # <label>.csv per model
MODELS_DIR = "models"  # <label>.safetensors per model
PARTIAL_DIR = "partial"  # finished stacks of an unfinished grid


UNITS_FILE = "units.json"  # in partial/: the parts, and what a resume needs back

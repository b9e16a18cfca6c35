"""What a run folder holds, by file name: the one place a run folder's layout is written down."""

from __future__ import annotations

from dataclasses import dataclass

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "model.safetensors"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
LOCK_FILE = ".lock"  # held (flock) by the process that runs the folder: runs/lock.py
LOSS_PLOT_FILE = "loss.png"
FIT_PLOT_FILE = "fit.png"  # 1-D regression only: the learned function, beyond the data too
ERRORS_PLOT_FILE = "errors.png"  # regression: predicted vs true, percentage error vs |target|
ROC_PLOT_FILE = "roc.png"  # binary classification: the ROC curve on test (val without one)
PR_PLOT_FILE = "precision_recall.png"  # binary classification: precision against recall, likewise
BOUNDARY_PLOT_FILE = "decision_boundary.png"  # 2-D classification: the predicted class everywhere
SPLIT_FILE = "split.json"  # the rows of each split: CSV line numbers, or a set's positions
REPORT_FILE = "report.html"  # every run, sweep and comparison: the folder as one page
LAST_STATE_FILE = "last.safetensors"  # resumable training state; removed when a run finishes
BEST_FILE = "best.safetensors"  # with early stopping, the best weights so far; removed likewise
# With tracking on (nncli/tracking/)
TENSORBOARD_DIR = "tensorboard"  # event files: one model's, or a sweep's <label>/ each
TRACKING_FILE = "tracking.json"  # the MLflow runs a resume continues
# Sweeps and comparisons
SUMMARY_FILE = "summary.json"  # what --json prints
SUMMARY_CSV_FILE = "summary.csv"  # one row per variant
MODELS_CSV_FILE = "models.csv"  # one row per model (variant x seed)
HISTORY_DIR = "history"  # <label>.csv per model
MODELS_DIR = "models"  # <label>.safetensors per model
LOSS_CURVES_PLOT = "loss_curves.png"  # loss by epoch per variant
METRIC_PLOT = "metric_by_value.png"  # the headline metric against each varied value
GRAD_NORMS_PLOT = "grad_norms.png"  # with diagnostics: the gradient norm of each layer
# With diagnostics: the first layer's gradient over the output layer's, against the varied values.
GRAD_RATIO_PLOT = "grad_ratio_by_value.png"
ACTIVATIONS_PLOT = "activations.png"  # model.activation varied: each one and its derivative
FITS_PLOT = "fits.png"  # 1-D regression: each variant's learned function, beyond the data too
BOUNDARIES_PLOT = "decision_boundaries.png"  # 2-D classification: each variant's classes
# Searches (nncli tune)
STUDY_FILE = "study.journal"  # the Optuna study, unless --storage names another place
TRIALS_CSV_FILE = "trials.csv"  # one row per trial of the study
OPTIMIZATION_PLOT = "optimization_history.png"  # each trial's val loss, the best so far
LOSS_BY_VALUE_PLOT = "loss_by_value.png"  # each trial's val loss against each searched value
IMPORTANCE_PLOT = "param_importances.png"  # how much each searched key matters (PED-ANOVA)
# Partial results of an unfinished grid, in PARTIAL_DIR
PARTIAL_DIR = "partial"
UNITS_FILE = "units.json"  # a split sweep's parts, and what a resume needs back
LOCK_FILE = ".lock"  # held (flock) by the process that runs the folder


def stack_file(stack: int) -> str:
    """A finished stack's models, in PARTIAL_DIR."""
    return f"stack-{stack}.safetensors"


def part_file(part: int) -> str:
    """A split sweep's finished part's models, in PARTIAL_DIR."""
    return f"part-{part}.safetensors"


def part_state_file(part: int) -> str:
    """A split sweep's part stopped part-way: its resumable state, in PARTIAL_DIR."""
    return f"part-{part}.state.safetensors"


def history_file(label: str) -> str:
    """A grid model's history, in HISTORY_DIR."""
    return f"{label}.csv"


def model_file(label: str) -> str:
    """A grid model's checkpoint, in MODELS_DIR."""
    return f"{label}.safetensors"


@dataclass(frozen=True)
class RunKind:
    """One kind of run folder: what a command that trains makes, and how it differs from the
    others. run.json records its `name`."""

    name: str  # as run.json holds it
    command: str  # what runs it, and resumes it with --resume
    suffix: str  # a default folder's name: <config name>[-suffix]-<time>
    vary_flag: str  # the option its varied values come from, named in messages
    requires_vary: bool  # a grid of one variant is refused
    summary_file: str  # what --json prints, kept in the folder
    data_parallel: bool  # under torchrun: every rank shares each batch, else the models are split
    live_history: bool  # history.csv written as each epoch ends (a grid writes it at the end)
    keeps_best: bool  # with early stopping, the best weights so far kept beside the state
    varies: str | None = None  # the one key it always varies (its records are named by it)
    launched: bool = True  # runs under torchrun (a search runs in one process; see `tune`)
    study: bool = False  # resumed from its Optuna study, not from a saved training state

    @property
    def single_model(self) -> bool:
        """Whether it trains one model (a grid of one), not a grid of variants x seeds."""
        return self.data_parallel

    @property
    def record_key(self) -> str | None:
        """What its summary's records are named by, when it always varies one key."""
        return None if self.varies is None else self.varies.rsplit(".", 1)[-1]


TRAIN = RunKind(
    "train", "nncli train", suffix="", vary_flag="--vary", requires_vary=False,
    summary_file=METRICS_FILE, data_parallel=True, live_history=True, keeps_best=True,
)  # fmt: skip
SWEEP = RunKind(
    "sweep", "nncli sweep", suffix="sweep", vary_flag="--vary", requires_vary=True,
    summary_file=SUMMARY_FILE, data_parallel=False, live_history=False, keeps_best=False,
)  # fmt: skip
COMPARE = RunKind(
    "compare", "nncli compare-activations", suffix="activations", vary_flag="--activations",
    requires_vary=False, summary_file=SUMMARY_FILE, data_parallel=False, live_history=False,
    keeps_best=False, varies="model.activation",
)  # fmt: skip
TUNE = RunKind(
    "tune", "nncli tune", suffix="tune", vary_flag="--search", requires_vary=True,
    summary_file=SUMMARY_FILE, data_parallel=False, live_history=False, keeps_best=False,
    launched=False, study=True,
)  # fmt: skip
RUN_KINDS = {kind.name: kind for kind in (TRAIN, SWEEP, COMPARE, TUNE)}


def run_kind(name: object) -> RunKind | None:
    """The kind run.json names (None for a name this nncli does not know)."""
    return RUN_KINDS.get(name) if isinstance(name, str) else None


def command_name(name: object) -> str:
    """The command that made a folder of the kind run.json names."""
    kind = run_kind(name)
    return kind.command if kind is not None else f"nncli {name}"

"""The typed, strict configuration: YAML in, a validated `Config` out, every problem at once."""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections import Counter
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nncli.datasets import DATASETS
from nncli.errors import excerpt, excerpts

# YAML 1.1 (PyYAML) reads `1e-3` as a string because it has no dot; every user writes it anyway.
_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _scientific_float(value: Any) -> Any:
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    return value


Float = Annotated[float, BeforeValidator(_scientific_float)]

# scikit-learn's random_state takes seeds below 2**32; compare-activations adds up to 999 more.
MAX_SEED = 2**32 - 1000

# The widest layer nncli builds (and loads), and the most weights its hidden layers may hold
# (8 GB of float32, before gradients): wider networks cannot be trained in any memory nncli runs
# in; 10**30 overflowed inside torch. model.check_fits_in_memory checks the whole network once
# the data gives its input and output sizes.
MAX_WIDTH = 10**7
MAX_HIDDEN_WEIGHTS = 2 * 10**9
# The weights are float32: a learning rate or decay beyond its range cannot be applied to them.
FLOAT32_MAX = 3.4028234663852886e38

# The most CPU threads `training.threads` may ask torch for.
MAX_THREADS = 1024

# Feature cells read as missing by default, besides an empty cell (in any letter case).
MISSING_VALUES = ("NA", "NaN", "N/A", "null", "None")

# Configs are a few hundred bytes; YAML parses at about 1 MB a second.


# The activations a config may name. Their functions live in the registry, model/activations.py;
# the names are kept here too so that checking a config needs no torch (a test keeps both equal).
ACTIVATION_NAMES = (
    "identity",
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "softplus",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SplitConfig(_Strict):
    """Fractions of the data in each split; they must sum to 1."""

    train: Float = Field(0.7, gt=0, le=1)
    val: Float = Field(0.15, ge=0, lt=1)
    test: Float = Field(0.15, ge=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(
                f"train + val + test must sum to 1, got {self.train} + {self.val} + {self.test}"
                f" = {total:g}"
            )
        return self


class DataConfig(_Strict):
    """Where the data comes from and how it is split and scaled.

    Which fields apply depends on the source; a synthetic set's missing `n_samples` and `noise`
    are filled in with the set's own defaults, so a saved config says what was generated.
    """

    # A registered dataset name, or a path to a CSV file (relative to the config file).
    source: str
    # CSV only: the column to predict, and columns (ids, notes) that are not features.
    target: str | None = Field(None, validate_default=True)
    ignore_columns: list[str] = Field([], validate_default=True)
    # CSV only: the feature columns; default every column but the target and ignore_columns.
    features: list[str] | None = Field(None, validate_default=True)
    task: Literal["auto", "classification", "regression"] = "auto"
    # Synthetic sets only; None takes the set's own default.
    n_samples: int | None = Field(None, ge=4, le=10_000_000, validate_default=True)
    noise: Float | None = Field(None, ge=0, allow_inf_nan=False, validate_default=True)
    # Seeds the split (and synthetic generation) alone, so changing the top-level seed compares
    # models on the same data.
    seed: int = Field(0, ge=0, le=MAX_SEED)
    split: SplitConfig = SplitConfig()
    # Fitted on the training split only.
    scaling: Literal["standard", "minmax", "none"] = "standard"
    # Regression: train on standardized targets; metrics are always in the original units.
    scale_target: bool = True
    # Binary classification: the class that F1, precision, recall and ROC AUC score as positive
    # (by default the second of the sorted classes).
    positive_class: str | int | None = None
    # CSV only, from here on. A column holding any number is numeric, one of text categorical
    # (one-hot encoded, its categories learned on the training split); these force either.
    categorical: list[str] = Field([], validate_default=True)
    numeric: list[str] = Field([], validate_default=True)
    # A category the training split lacks, met later: an error, or encoded as all zeros.
    unknown_categories: Literal["error", "zeros"] = "error"
    # A missing feature value: an error, the row dropped, or imputed from the training split
    # (numbers: `impute`, by default the mean; categories: the most frequent).
    missing: Literal["error", "drop", "impute"] = "error"
    impute: Literal["mean", "median"] | None = Field(None, validate_default=True)
    # Feature cells that mean "missing" besides an empty one, in any letter case. In the target
    # only an empty cell is missing, or one of these where the target is numeric: `NA` can be a
    # class label.
    missing_values: list[str] = Field(list(MISSING_VALUES), validate_default=True)
    # The field separator; auto takes the most frequent of , ; tab | in the header line.
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if looks_like_path(source):
            return source
        if source not in DATASETS:
            raise ValueError(
                f"{unknown_name('dataset', source, DATASETS)} (or a path to a .csv file)"
            )
        return source

    @field_validator("target", "ignore_columns", "n_samples", "noise")
    @classmethod
    def _applies_to_source(cls, value: Any, info: ValidationInfo) -> Any:
        source = info.data.get("source")
        if source is None:  # the source itself is wrong, and reported
            return value
        given = value is not None and value != []
        if info.field_name in ("target", "ignore_columns"):
            if looks_like_path(source):
                if info.field_name == "target" and value is None:
                    raise ValueError("required for a CSV source (the column to predict)")
                if info.field_name == "ignore_columns" and info.data.get("target") in value:
                    raise ValueError(f"{excerpt(info.data['target'])} is the target")
            elif given:
                raise ValueError("applies to CSV files only")
            return value
        if given and looks_like_path(source):
            raise ValueError("applies to synthetic sets only, not CSV files")
        if given and not DATASETS[source].synthetic:
            raise ValueError(f"applies to synthetic sets only, not '{source}'")
        return value

    @field_validator(
        "features", "categorical", "numeric", "unknown_categories", "missing", "impute",
        "missing_values", "delimiter",
    )  # fmt: skip
    @classmethod
    def _csv_only(cls, value: Any, info: ValidationInfo) -> Any:
        source = info.data.get("source")
        default = cls.model_fields[info.field_name].get_default(call_default_factory=True)
        if source is not None and not looks_like_path(source) and value != default:
            raise ValueError("applies to CSV files only")
        return value

    @field_validator("features")
    @classmethod
    def _features_are_not_target_or_ignored(cls, value: list[str] | None, info: ValidationInfo):
        if value is None:
            return value
        if not value:
            raise ValueError("must name at least one column (or leave it out for every column)")
        problems = _column_list_problems(value, info)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("categorical", "numeric")
    @classmethod
    def _forced_columns_are_features(cls, value: list[str], info: ValidationInfo) -> list[str]:
        problems = _column_list_problems(value, info)
        ignored = info.data.get("ignore_columns", [])
        features = info.data.get("features")
        outside = [
            c
            for c in value
            if features is not None and c not in [*features, info.data.get("target"), *ignored]
        ]
        if outside:
            problems.append(f"not in data.features: {excerpts(outside)}")
        both = [c for c in value if c in info.data.get("categorical", [])]
        if info.field_name == "numeric" and both:
            problems.append(f"also in data.categorical: {excerpts(both)}")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("impute")
    @classmethod
    def _impute_needs_missing_impute(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("missing") not in (None, "impute"):
            raise ValueError("applies only with data.missing: impute")
        return value

    @model_validator(mode="after")
    def _synthetic_defaults(self) -> DataConfig:
        if self.missing == "impute" and self.impute is None:
            self.impute = "mean"
        if looks_like_path(self.source):
            return self
        spec = DATASETS[self.source]
        if spec.synthetic:
            if self.n_samples is None:
                self.n_samples = spec.default_samples
            if self.noise is None:
                self.noise = spec.default_noise
        return self


class ModelConfig(_Strict):
    # Hidden layers; 0 is a single-layer perceptron (inputs straight to outputs).
    depth: int = Field(1, ge=0, le=256)
    # One width for every hidden layer, or a list with one width per hidden layer.
    width: int | list[int] = 16
    activation: str = "relu"

    @field_validator("width", mode="before")
    @classmethod
    def _positive_widths(cls, width: Any) -> int | list[int]:
        widths = width if isinstance(width, list) else [width]
        if not all(isinstance(w, int) and not isinstance(w, bool) for w in widths):
            raise ValueError(f"must be an integer or a list of integers, got {excerpt(width)}")
        if any(w < 1 for w in widths):
            raise ValueError(f"every width must be >= 1, got {excerpt(width)}")
        if any(w > MAX_WIDTH for w in widths):
            raise ValueError(f"every width must be at most {MAX_WIDTH:,}, got {excerpt(width)}")
        return width

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, name: str) -> str:
        if name not in ACTIVATION_NAMES:
            raise ValueError(unknown_name("activation", name, ACTIVATION_NAMES))
        return name

    @model_validator(mode="after")
    def _width_list_matches_depth(self) -> ModelConfig:
        if isinstance(self.width, list) and len(self.width) != self.depth:
            raise ValueError(
                f"width lists {len(self.width)} layers but depth is {self.depth};"
                " give one width per hidden layer"
            )
        weights = sum(a * b for a, b in itertools.pairwise(self.widths))
        if weights > MAX_HIDDEN_WEIGHTS:
            raise ValueError(
                f"the hidden layers would hold {weights:,} weights, more than the"
                f" {MAX_HIDDEN_WEIGHTS:,} that fit in memory; reduce model.width or model.depth"
            )
        return self

    @property
    def widths(self) -> list[int]:
        return list(self.width) if isinstance(self.width, list) else [self.width] * self.depth


class EarlyStoppingConfig(_Strict):
    """Stop when validation loss has not improved for `patience` epochs; keep the best."""

    monitor: Literal["val_loss"] = "val_loss"
    patience: int = Field(10, ge=1)
    min_delta: Float = Field(0.0, ge=0, allow_inf_nan=False)


class TrainingConfig(_Strict):
    lr: Float = Field(0.05, gt=0, allow_inf_nan=False)
    batch_size: int = Field(32, ge=1, le=10**9)  # larger than the data is clamped anyway
    # Under torchrun, data-parallel `train`: "global" keeps batch_size the whole batch, as one
    # process trains it (each process computes its share); "process" makes it each process's,
    # so N processes take batches of N x batch_size (fewer steps, fewer all-reduces an epoch).
    batch_scope: Literal["global", "process"] = "global"
    epochs: int = Field(100, ge=1, le=1_000_000)
    momentum: Float = Field(0.0, ge=0, lt=1)
    weight_decay: Float = Field(0.0, ge=0, allow_inf_nan=False)
    nesterov: bool = False
    early_stopping: EarlyStoppingConfig | None = None
    # "cuda:N" is the CUDA device of index N; "auto" is CUDA where there is one, else the CPU.
    device: str = "cpu"
    # The matrix products' float format. tf32: CUDA tensor cores round their inputs to a 10-bit
    # mantissa (float32 elsewhere; the CPU has no tf32). bf16: autocast runs products and
    # activations in bfloat16 while weights, loss and updates stay float32.
    precision: Literal["fp32", "tf32", "bf16"] = "fp32"
    # On CUDA, capture the explicit engine's training step once as a CUDA graph and replay it
    # for every full batch: one launch a step instead of some 25, for small models whose steps
    # launching sets the pace. No effect on the CPU or with bf16.
    cuda_graphs: bool = False

    @field_validator("device")
    @classmethod
    def _device_form(cls, device: str) -> str:
        if not re.fullmatch(r"cpu|auto|cuda(:[0-9]{1,4})?", device):
            raise ValueError(
                f"must be cpu, cuda, cuda:N (the index of a CUDA device) or auto,"
                f" got {excerpt(device)}"
            )
        return device

    # CPU threads torch computes with: "auto" chooses from the work per step and the cores idle
    # (one thread for small models or on a busy machine, more for large batches and wide layers;
    # threads.py), a number is used as is.
    threads: int | Literal["auto"] = "auto"

    @field_validator("threads", mode="before")
    @classmethod
    def _thread_count(cls, threads: Any) -> int | str:
        whole = isinstance(threads, int) and not isinstance(threads, bool)
        if threads == "auto" or (whole and 1 <= threads <= MAX_THREADS):
            return threads
        raise ValueError(
            f"must be auto or a whole number from 1 to {MAX_THREADS}, got {excerpt(threads)}"
        )

    # Classification: weigh each class in the loss; "balanced" gives class c the weight
    # n / (n_classes * n_c) on the training split (scikit-learn's), a mapping names labels.
    class_weight: Literal["balanced"] | dict[str | int, Float] | None = None

    @field_validator("class_weight")
    @classmethod
    def _positive_weights(cls, weights: object) -> object:
        if isinstance(weights, dict):
            bad = [k for k, w in weights.items() if not (0 < w < float("inf"))]
            if bad:
                raise ValueError(
                    f"every weight must be a positive number; {excerpt(bad[0])} is not"
                )
        return weights

    @field_validator("lr", "weight_decay")
    @classmethod
    def _fits_float32(cls, value: float) -> float:
        if value > FLOAT32_MAX:
            raise ValueError(
                f"must be at most {FLOAT32_MAX:.4g}, the largest float32 (the weights' type),"
                f" got {value:g}"
            )
        return value

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> TrainingConfig:
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        return self


class OutputConfig(_Strict):
    # Run folders go here, relative to the current directory.
    dir: str = "runs"


class Config(_Strict):
    # Names the run folder; defaults to the config file's name.
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    # Seeds weight initialization and batch order (not the data split: see data.seed).
    seed: int = Field(0, ge=0, le=MAX_SEED)
    data: DataConfig
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _early_stopping_needs_val(self) -> Config:
        if self.training.early_stopping is not None and self.data.split.val == 0:
            raise ValueError("training.early_stopping needs a validation split (data.split.val)")
        return self


def _column_list_problems(names: list[str], info: ValidationInfo) -> list[str]:
    """What is wrong with a list of feature columns: repeats, the target, ignored columns."""
    problems = _repeated(names)
    if info.data.get("target") in names:
        problems.append(f"{excerpt(info.data['target'])} is the target")
    ignored = [c for c in names if c in info.data.get("ignore_columns", [])]
    if ignored:
        problems.append(f"also in data.ignore_columns: {excerpts(ignored)}")
    return problems


def _repeated(names: list[str]) -> list[str]:
    twice = [name for name, count in Counter(names).items() if count > 1]
    return [f"listed twice: {excerpts(twice)}"] if twice else []


def unknown_name(kind: str, name: object, valid: Any) -> str:
    names = sorted(valid)
    close = difflib.get_close_matches(str(name)[:100], names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {kind} {excerpt(str(name))}{hint}; valid: {', '.join(names)}"


def looks_like_path(source: str) -> bool:
    return source.lower().endswith((".csv", ".tsv")) or "/" in source or "\\" in source


def dump_config(config: Config) -> str:
    """The fully resolved config as YAML, defaults filled in."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)

"""The typed, strict configuration: YAML in, a validated `Config` out, every problem at once.

The `data` section and its per-source rules live in config/data.py; the fields' descriptions
here are docs/config.md's reference (docs/make_config_reference.py writes it).
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from nncli.config.choosing import (
    EarlyStoppingConfig,
    early_stopping_section,
    known_metric,
)
from nncli.config.data import DataConfig
from nncli.config.fields import MAX_SEED, Float, Strict, unknown_name
from nncli.config.tracking import TrackingConfig
from nncli.errors import excerpt
from nncli.metrics import METRICS

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


class ModelConfig(Strict):
    depth: int = Field(
        1, ge=0, le=256, description="hidden layers; `0` is a single-layer perceptron"
    )
    width: int | list[int] = Field(
        16,
        description=f"one width for every hidden layer, or a list with one per layer; each from 1"
        f" to {MAX_WIDTH:,}, and at most {MAX_HIDDEN_WEIGHTS:,} hidden weights in all",
    )
    activation: str = Field(
        "relu",
        description=f"the hidden layers' activation: {', '.join(ACTIVATION_NAMES)}",
    )

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


class TrainingConfig(Strict):
    lr: Float = Field(
        0.05,
        gt=0,
        allow_inf_nan=False,
        description=f"SGD learning rate (at most {FLOAT32_MAX:.4g}, the largest float32)",
    )
    batch_size: int = Field(
        32,
        ge=1,
        le=10**9,
        description="rows a step; larger than the training split is clamped to it, with a"
        " warning before training and `clamped from N` in the setup line",
    )
    # "process" means fewer steps, and so fewer all-reduces, an epoch.
    batch_scope: Literal["global", "process"] = Field(
        "global",
        description="under torchrun, data-parallel `train`: `global` keeps `batch_size` the whole"
        " batch (each of N processes computes about `batch_size / N` rows, and the run trains as"
        " one process would); `process` makes it each process's, so a step takes"
        " `N x batch_size` rows ([Scaling out](scaling-out.md))",
    )
    epochs: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="passes over the training split, reshuffled each epoch",
    )
    momentum: Float = Field(0.0, ge=0, lt=1, description="`torch.optim.SGD`'s momentum")
    weight_decay: Float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="L2 penalty as `torch.optim.SGD` applies it (at most the largest float32)",
    )
    nesterov: bool = Field(False, description="Nesterov momentum (needs `momentum` > 0)")
    early_stopping: EarlyStoppingConfig | None = Field(
        default_factory=EarlyStoppingConfig,
        description="on by default where there is a validation split (`data.split.val` > 0):"
        " stop after `patience` epochs without improvement of the validation loss and restore"
        " the best weights; `true` or `{}` for the defaults, a section to change them"
        " (`{patience: 50}`), `false` or null: off (every epoch runs, the last weights kept)",
    )

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _on_or_off(cls, value: Any) -> Any:
        return early_stopping_section(value)

    headline_metric: str | None = Field(
        None,
        description="the metric tables highlight, `nncli runs` shows and sorts by, and a sweep's"
        " best variant is chosen on (on the validation split), from the task's metrics in"
        " [metrics](metrics.md) (`f1`, `balanced_accuracy` for imbalanced classes); null: the"
        " task's first (`accuracy`, `mse`)",
    )

    @field_validator("headline_metric")
    @classmethod
    def _known_metric(cls, name: str | None) -> str | None:
        return known_metric(name)

    device: str = Field(
        "cpu",
        description="`cpu`, `cuda` (the current CUDA device), `cuda:N` (the one of index N) or"
        " `auto` (CUDA where there is one, else the CPU); a CUDA device that is not there is"
        " refused before anything runs",
    )
    # tf32: CUDA tensor cores round their inputs to a 10-bit mantissa (the CPU has no tf32).
    precision: Literal["fp32", "tf32", "bf16"] = Field(
        "fp32",
        description="the matrix products' float format: `fp32`; `tf32` (CUDA tensor cores; on the"
        " CPU a warning says it is fp32); `bf16` (autocast: bfloat16 products and activations,"
        " float32 weights, loss and updates)",
    )
    # Small models' steps are launch-bound: launching sets their pace.
    cuda_graphs: bool = Field(
        False,
        description="on CUDA, capture the explicit engine's training step once as a CUDA graph"
        " and replay it for every full batch (one launch a step instead of some 25: small models"
        " train several times faster); no effect on the CPU or with `bf16`",
    )

    @field_validator("device")
    @classmethod
    def _device_form(cls, device: str) -> str:
        if not re.fullmatch(r"cpu|auto|cuda(:[0-9]{1,4})?", device):
            raise ValueError(
                f"must be cpu, cuda, cuda:N (the index of a CUDA device) or auto,"
                f" got {excerpt(device)}"
            )
        return device

    # train/threads.py chooses for "auto".
    threads: int | Literal["auto"] = Field(
        "auto",
        description="CPU threads torch computes with: `auto` gives one thread per 4,000,000"
        " multiply-adds of a training step (batch x the sum of layer inputs x outputs x models"
        " stacked), at least 1 and at most the cores the process may use that other work leaves"
        " idle (by the 1-minute load average), so small models, and any model on a busy machine,"
        f" train on one; or a number from 1 to {MAX_THREADS:,}, used as given. The setup line and"
        " `run.json` say how many; `evaluate` and `predict` choose as `auto` does for their one"
        " pass over the rows ([benchmarks](benchmarks.md#threads))",
    )

    @field_validator("threads", mode="before")
    @classmethod
    def _thread_count(cls, threads: Any) -> int | str:
        whole = isinstance(threads, int) and not isinstance(threads, bool)
        if threads == "auto" or (whole and 1 <= threads <= MAX_THREADS):
            return threads
        raise ValueError(
            f"must be auto or a whole number from 1 to {MAX_THREADS}, got {excerpt(threads)}"
        )

    class_weight: Literal["balanced"] | dict[str | int, Float] | None = Field(
        None,
        description="classification: `balanced` (class c weighs n / (classes x n_c) on the"
        " training split, as scikit-learn's) or a mapping `{label: weight}` of positive weights;"
        " the loss (and so early stopping and `learned`) is the weighted mean (null: unweighted)",
    )

    @field_validator("class_weight")
    @classmethod
    def _positive_weights(cls, weights: object) -> object:
        if isinstance(weights, dict):
            bad = [(k, w) for k, w in weights.items() if not (0 < w < float("inf"))]
            if bad:
                label, weight = bad[0]
                raise ValueError(
                    f"every weight must be a positive finite number, got {weight!r} for class"
                    f" {excerpt(label)}"
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


class OutputConfig(Strict):
    dir: str = Field("runs", description="where run folders go, relative to the current directory")


class Config(Strict):
    name: str | None = Field(
        None,
        description="names the run folder (null: the config file's name): letters of any script,"
        " digits, `_`, `.` and `-`, starting with a letter or digit",
    )
    seed: int = Field(
        0,
        ge=0,
        le=MAX_SEED,
        description="weight initialization and batch order (not the split: see `data.seed`)",
    )
    data: DataConfig = Field(description="where the data comes from, how it is split and scaled")
    model: ModelConfig = Field(ModelConfig(), description="the network")
    training: TrainingConfig = Field(TrainingConfig(), description="SGD and where it runs")
    output: OutputConfig = Field(OutputConfig(), description="where results go")
    tracking: TrackingConfig = Field(
        TrackingConfig(), description="TensorBoard and MLflow, off unless turned on here"
    )

    @field_validator("name")
    @classmethod
    def _names_a_folder(cls, name: str | None) -> str | None:
        # isalnum, not a regex's \w: Hangul and other letters pass, while joiners, marks alone
        # and bidi controls (invisible in a folder name) do not.
        if name is not None and not (
            name[:1].isalnum() and all(c.isalnum() or c in "_.-" for c in name)
        ):
            raise ValueError(
                "letters, digits, '_', '.' and '-' only, starting with a letter or digit (it"
                f" names the run folder), got {excerpt(name)}"
            )
        return name

    @model_validator(mode="after")
    def _early_stopping_needs_val(self) -> Config:
        stopping = self.training.early_stopping
        if stopping is not None and self.data.split.val == 0:
            if "early_stopping" in self.training.model_fields_set:
                raise ValueError(
                    "training.early_stopping needs a validation split (data.split.val); set"
                    " data.split.val (e.g. 0.15) or training.early_stopping: false"
                )
            # The default: on only where it can be (a copy: the default section is shared).
            self.training = self.training.model_copy(update={"early_stopping": None})
        return self

    @model_validator(mode="after")
    def _headline_of_the_task(self) -> Config:
        name, task = self.training.headline_metric, self.data.task
        if name is not None and task != "auto" and METRICS[name].task != task:
            raise ValueError(
                f"training.headline_metric: {excerpt(name)} is a {METRICS[name].task} metric and"
                f" data.task is {task}"
            )
        return self


def dump_config(config: Config) -> str:
    """The fully resolved config as YAML, defaults filled in."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)

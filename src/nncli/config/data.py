"""The `data` section: where the data comes from, how it is split and scaled, and which keys
apply to which source (a built-in set, synthetic or not, or a CSV file)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from nncli.config.fields import MAX_SEED, Float, Strict, unknown_name
from nncli.datasets import DATASETS
from nncli.errors import excerpt, excerpts

# Feature cells read as missing by default, besides an empty cell (in any letter case).
MISSING_VALUES = ("NA", "NaN", "N/A", "null", "None")


class SplitConfig(Strict):
    """Fractions of the data in each split; they must sum to 1."""

    train: Float = Field(0.7, gt=0, le=1, description="fraction of the rows to train on")
    val: Float = Field(
        0.15,
        ge=0,
        lt=1,
        description="fraction to validate on (best epoch, early stopping); may be 0",
    )
    test: Float = Field(0.15, ge=0, lt=1, description="fraction to test on; may be 0")

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(
                f"train + val + test must sum to 1, got {self.train} + {self.val} + {self.test}"
                f" = {total:g}"
            )
        return self


class DataConfig(Strict):
    """Where the data comes from and how it is split and scaled.

    Which fields apply depends on the source; a synthetic set's missing `n_samples` and `noise`
    are filled in with the set's own defaults, so a saved config says what was generated.
    """

    source: str = Field(
        description="a built-in dataset (`nncli datasets`) or a path to a `.csv` file (relative"
        " to the config file)"
    )
    target: str | None = Field(
        None, validate_default=True, description="CSV only (and required): the column to predict"
    )
    ignore_columns: list[str] = Field(
        [],
        validate_default=True,
        description="CSV only: columns (ids, notes) that are not features",
    )
    features: list[str] | None = Field(
        None,
        validate_default=True,
        description="CSV only: the feature columns, in this order (null: every column but the"
        " target and `data.ignore_columns`, which is then only for `evaluate --data` files)",
    )
    task: Literal["auto", "classification", "regression"] = Field(
        "auto",
        description="`classification`, `regression`, or `auto`: inferred from the data (strings"
        " are classes; numbers are classes when they are at most 20 distinct integers)",
    )
    n_samples: int | None = Field(
        None,
        ge=4,
        le=10_000_000,
        validate_default=True,
        description="synthetic sets only: rows to generate (null: the set's own default)",
    )
    noise: Float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        validate_default=True,
        description="synthetic sets only: the generator's noise (null: the set's own default)",
    )
    # Its own seed, so changing the top-level seed compares models on the same data.
    seed: int = Field(
        0,
        ge=0,
        le=MAX_SEED,
        description="seeds the split and synthetic generation (not the weights: see `seed`)",
    )
    split: SplitConfig = Field(
        SplitConfig(),
        description="the train/val/test fractions, summing to 1; stratified for classification",
    )
    scaling: Literal["standard", "minmax", "none"] = Field(
        "standard",
        description="feature scaling, fitted on the training split only and saved with the model",
    )
    scale_target: bool = Field(
        True,
        description="regression: train on a standardized target; metrics stay in original units",
    )
    positive_class: str | int | None = Field(
        None,
        description="binary classification: the class F1, precision, recall, specificity, ROC AUC"
        " and average precision score as positive, named in tables as `f1 (Yes)` (null: the"
        " second of the sorted classes)",
    )
    class_order: list[str | int] | None = Field(
        None,
        description="classification: the order confusion matrices and per-class tables list"
        " the classes in, each once (for ordinal labels: `[VF, F, M, L]`); null: sorted",
    )
    # CSV only, from here on.
    categorical: list[str] = Field(
        [],
        validate_default=True,
        description="CSV only: columns to one-hot encode as categories even if they hold numbers"
        " (codes such as 1/2/3); a column holding any number is otherwise numeric, one of text"
        " categorical, its categories learned on the training split",
    )
    numeric: list[str] = Field(
        [], validate_default=True, description="CSV only: columns to read as numbers"
    )
    unknown_categories: Literal["error", "zeros"] = Field(
        "error",
        description="CSV only: a category the training split lacks, met in val/test or at"
        " `evaluate`/`predict`: an `error` naming line, column and value, or `zeros` (all its"
        " one-hot inputs 0)",
    )
    missing: Literal["error", "drop", "impute"] = Field(
        "error",
        description="CSV only: a missing feature value is an `error`, or `drop` the row, or"
        " `impute` it from the training split",
    )
    # `mean` is what applies unless set, so the resolved config says so; null (older run
    # folders' config.yaml) reads as `mean`.
    impute: Literal["mean", "median"] | None = Field(
        "mean",
        validate_default=True,
        description="how `data.missing: impute` fills numbers: `mean` or `median` of the training"
        " split; categories take the most frequent",
    )
    # In the target only an empty cell is missing, or one of these where the target is numeric:
    # `NA` can be a class label.
    missing_values: list[str] = Field(
        list(MISSING_VALUES),
        validate_default=True,
        description="CSV only: feature cells that mean missing besides an empty one, in any letter"
        " case",
    )
    delimiter: Literal["auto", ",", ";", "\t", "|"] = Field(
        "auto",
        description="CSV only: the field separator; `auto` takes the most frequent of `,` `;`"
        " tab `|` in the header line",
    )

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

    @field_validator("class_order")
    @classmethod
    def _each_class_once(cls, value: list | None) -> list | None:
        names = [str(c) for c in value or []]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"listed twice: {excerpts(twice)}")
        return value

    @field_validator("impute")
    @classmethod
    def _impute_needs_missing_impute(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Anything but the default, which a resolved config always shows, asks for imputation.
        if value not in (None, "mean") and info.data.get("missing") not in (None, "impute"):
            raise ValueError("applies only with data.missing: impute")
        return "mean" if value is None else value

    @model_validator(mode="after")
    def _synthetic_defaults(self) -> DataConfig:
        if looks_like_path(self.source):
            return self
        spec = DATASETS[self.source]
        if spec.synthetic:
            if self.n_samples is None:
                self.n_samples = spec.default_samples
            if self.noise is None:
                self.noise = spec.default_noise
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


def looks_like_path(source: str) -> bool:
    return source.lower().endswith((".csv", ".tsv")) or "/" in source or "\\" in source

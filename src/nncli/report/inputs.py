"""The files `report.html` is built from, read from a run folder and checked before a page is
made of them: each through the bounded, regular-file-only reader, the JSON fields the page shows
of the types it needs (a wrong type is one line naming the file and the field, not an internal
error), and the figures within a total budget as well as a per-file one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nncli.errors import UsageError, clipped
from nncli.fileio import read_json_mapping, read_regular_bytes

PNG_LIMIT = 32 << 20  # a figure nncli drew is well under 1 MiB
FIGURES_LIMIT = 256 << 20  # all of a page's figures together: the page holds them in memory

Number = float | None  # a metric or a statistic; null where it has no value


class _Loose(BaseModel):
    """Fields the page reads, checked; any other field is let through unread."""

    model_config = ConfigDict(extra="allow", strict=True)


class _Status(_Loose):  # run.json
    kind: str | None = None
    created: str | None = None
    device: str | None = None
    status: str | None = None
    setup: str | None = None
    processes: int = Field(default=1, ge=1)
    warnings: list[str] = []


class _ClassScores(_Loose):
    precision: float
    recall: float
    f1: float
    support: int


class _Diagnostics(_Loose):  # metrics.json's, with --diagnostics
    hidden_activation: str
    sizes: list[int] = []
    grad_norms: list[float]
    grad_ratios: list[Number]
    dead_fraction: Number = None
    saturated_fraction: Number = None


class _Train(_Loose):  # metrics.json
    task: str = ""
    classes: list[str | int | float | bool | None] = []
    epochs_run: int | None = None
    best_epoch: int | None = None
    kept_epoch: int | None = None
    monitor: str | None = None
    metrics: dict[str, dict[str, Any]] = {}
    diagnostics: _Diagnostics | None = None


class _Stats(_Loose):
    mean: Number = None
    std: Number = None


class _Result(_Loose):
    activation: str | None = None
    values: dict[str, Any] = {}
    seeds: list[int] = Field(min_length=1)
    learned: int
    diverged: int
    metrics: dict[str, dict[str, _Stats | None]]
    best_epoch: _Stats | None = None
    grad_ratio: _Stats | None = None
    dead_fraction: _Stats | None = None
    saturated_fraction: _Stats | None = None
    hidden_activation: str | None = None
    grad_norms: list[Number] = []
    grad_ratios: list[Number] | None = None


class _Stack(_Loose):
    values: dict[str, Any] = {}
    models: int
    seconds: float | None = None


class _Grid(_Loose):  # summary.json
    results: list[_Result] = []
    stacks: list[_Stack] = []


def read_status(path: Path) -> dict:
    """run.json, its fields checked (an empty mapping when the folder has none)."""
    return _checked(path, _Status)


def read_train_summary(path: Path) -> dict:
    """metrics.json, checked: every split's metrics numbers, per-class scores and the confusion
    matrix one row per class."""
    summary = _checked(path, _Train)
    classes = summary.get("classes", [])
    for split, scores in summary.get("metrics", {}).items():
        for name, value in scores.items():
            where = f"metrics.{split}.{name}"
            if name == "per_class" and value is not None:
                rows = _field(path, where, list[_ClassScores], value)
                _same_length(path, where, rows, classes)
            elif name == "confusion_matrix" and value is not None:
                rows = _field(path, where, list[list[int]], value)
                _same_length(path, where, rows, classes)
            elif name not in ("per_class", "confusion_matrix"):
                _field(path, where, Number, value)
    return summary


def read_grid_summary(path: Path) -> dict:
    """summary.json, checked; the first result's splits are every result's."""
    summary = _checked(path, _Grid)
    results = summary.get("results", [])
    for i, result in enumerate(results):
        missing = [split for split in results[0]["metrics"] if split not in result["metrics"]]
        if missing:
            raise UsageError(f"{path}: field results.{i}.metrics: has no {clipped(missing[0])!r}")
    return summary


def read_figures(folder: Path, names: list[str]) -> dict[str, bytes]:
    """Each named PNG's bytes, each at most PNG_LIMIT and all together at most FIGURES_LIMIT."""
    figures, total = {}, 0
    for name in names:
        data = read_regular_bytes(folder / name, limit=PNG_LIMIT, what="figure",
                                  follow_symlinks=False)  # fmt: skip
        total += len(data)
        if total > FIGURES_LIMIT:
            raise UsageError(
                f"{folder}: its figures hold more than {FIGURES_LIMIT >> 20} MiB together;"
                " a report embeds at most that"
            )
        figures[name] = data
    return figures


def _checked(path: Path, model: type[_Loose]) -> dict:
    if not path.exists():
        return {}
    data = read_json_mapping(path)
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(_problem(path, exc)) from None
    return data  # as written: checked, not rewritten with defaults


def _field(path: Path, where: str, kind: object, value: object) -> Any:
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(kind).validate_python(value, strict=True)
    except ValidationError as exc:
        raise UsageError(_problem(path, exc, prefix=where)) from None


def _same_length(path: Path, where: str, rows: list, classes: list) -> None:
    if len(rows) != len(classes):
        raise UsageError(f"{path}: field {where}: {len(rows)} rows for {len(classes)} classes")


def _problem(path: Path, exc: ValidationError, prefix: str = "") -> str:
    """One line: the file, the dotted field of the first problem, what is wrong with it."""
    error = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
    more = exc.error_count() - 1
    tail = f" (and {more} more)" if more else ""
    return f"{path}: field {clipped(field, 80) or '(top)'}: {clipped(error['msg'], 80)}{tail}"

"""The model a RUN argument names, as `evaluate`, `predict` and `export` open it: a run folder's,
a checkpoint file, or the model of a sweep or comparison folder named by `--variant LABEL --seed
N`, or else the best variant's first seed."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.errors import UsageError, excerpt, excerpts
from nncli.fileio import read_json_mapping, read_regular_bytes
from nncli.runs.layout import (
    CHECKPOINT_FILE,
    MODELS_CSV_FILE,
    MODELS_DIR,
    SUMMARY_FILE,
    model_file,
)

if TYPE_CHECKING:  # torch once a model is opened, not to choose one
    from torch import nn

    from nncli.model.card import ModelCard


@dataclass(frozen=True)
class GridVariant:
    """One variant of a grid folder, read from models.csv: its label and its models."""

    label: str  # the models' file label without `-seed<N>`: `lr=0.1_width=8`
    seeds: list[int]
    files: list[str]  # per seed: the model's file label (models.csv's `file` column)
    split: str  # the split its models are chosen on: val, or train when there is none
    losses: list[float | None]  # per seed: that split's loss (None where undefined)
    diverged: bool  # on any seed


def open_model(
    target: Path, *, variant: str | None = None, seed: int | None = None
) -> tuple[nn.Sequential, ModelCard, str | None]:
    """The network and model card `checkpoint_of` finds, and its note."""
    from nncli.runs.checkpoint import load_checkpoint

    path, note = checkpoint_of(target, variant=variant, seed=seed)
    # nncli writes no symlinks into its folders
    return (*load_checkpoint(path, follow_symlinks=not Path(target).is_dir()), note)


def checkpoint_of(
    target: Path, *, variant: str | None = None, seed: int | None = None
) -> tuple[Path, str | None]:
    """A run folder's model.safetensors, one model of a sweep or comparison folder (`variant`
    and `seed`, else its best variant's first seed), or a checkpoint file itself; and a note
    naming the grid's model it chose."""
    target = Path(target)
    if target.is_dir():
        checkpoint, note = model_in_folder(target, variant=variant, seed=seed)
        if not checkpoint.exists():
            raise UsageError(
                f"{target}: no {CHECKPOINT_FILE} in this folder; is it a finished run?"
                if note is None
                else f"{checkpoint}: missing; is it a finished sweep or comparison?"
            )
        return checkpoint, note
    if variant is not None or seed is not None:
        flag = "--variant" if variant is not None else "--seed"
        raise UsageError(f"{flag}: applies to a sweep or comparison folder; {target} is a file")
    if not target.exists():
        raise UsageError(f"{target}: no such run folder or checkpoint")
    return target, None


def model_in_folder(
    folder: Path, *, variant: str | None, seed: int | None
) -> tuple[Path, str | None]:
    """The checkpoint `evaluate`/`predict` read in `folder`, and a note naming the model when
    it was one of a grid's (chosen or named)."""
    grid = (folder / MODELS_CSV_FILE).is_file()
    if not grid:
        if variant is not None or seed is not None:
            flag = "--variant" if variant is not None else "--seed"
            raise UsageError(f"{flag}: applies to a sweep or comparison folder; {folder} is a run")
        return folder / CHECKPOINT_FILE, None
    variants = read_variants(folder)
    if variant is None:
        chosen, why = chosen_in_summary(folder, variants) or best_variant(variants)
    else:
        found = [v for v in variants if v.label == variant]
        if not found:
            raise UsageError(
                f"--variant {excerpt(variant)}: no such variant in {folder}; its variants are:"
                f" {excerpts([v.label for v in variants])}"
            )
        chosen, why = found[0], "named by --variant"
    if seed is None:
        index = 0
    elif seed in chosen.seeds:
        index = chosen.seeds.index(seed)
    else:
        raise UsageError(
            f"--seed {seed}: variant {excerpt(chosen.label)} has seeds"
            f" {', '.join(map(str, chosen.seeds))}"
        )
    note = (
        f"model {chosen.label} seed {chosen.seeds[index]} ({why}); choose another with"
        " --variant LABEL --seed N"
    )
    return folder / MODELS_DIR / model_file(chosen.files[index]), note


def best_variant(variants: list[GridVariant]) -> tuple[GridVariant, str]:
    """The variant with the lowest mean validation loss (training loss without a validation
    split) among those that diverged on no seed, and why it was chosen.

    For folders whose summary records no choice of its own (`chosen_in_summary`)."""
    kept = [v for v in variants if not v.diverged and _mean(v.losses) is not None]
    if not kept:
        raise UsageError("every variant of this folder diverged; name one with --variant")
    best = min(kept, key=lambda v: _mean(v.losses))
    skipped = len(variants) - len(kept)
    extra = f", {skipped} diverged variant(s) left out" if skipped else ""
    return best, f"the best variant: lowest mean {best.split} loss over its seeds{extra}"


def chosen_in_summary(folder: Path, variants: list[GridVariant]) -> tuple[GridVariant, str] | None:
    """The variant the grid itself chose on validation (summary.json's `chosen` notes, written by
    grid/summary.py), when its summary records one; None for an older folder or none chosen."""
    try:
        summary = read_json_mapping(folder / SUMMARY_FILE)
    except (OSError, UsageError, ValueError):
        return None
    results = summary.get("results")
    if not isinstance(results, list) or len(results) != len(variants):
        return None
    for record, candidate in zip(results, variants, strict=True):
        note = record.get("chosen") if isinstance(record, dict) else None
        if isinstance(note, str) and note.startswith("best"):
            return candidate, f"the variant the grid chose: {note}"
    return None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def read_variants(folder: Path) -> list[GridVariant]:
    """A grid folder's variants, in models.csv's order (variant-major, seeds inner)."""
    path = folder / MODELS_CSV_FILE
    raw = read_regular_bytes(path, limit=64 << 20, what="models.csv", follow_symlinks=False)
    text = raw.decode("utf-8", errors="replace")
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or "file" not in rows[0] or "seed" not in rows[0]:
        raise UsageError(f"{folder / MODELS_CSV_FILE}: not a models.csv nncli wrote")
    columns = list(rows[0])
    values = columns[: columns.index("seed")]  # the varied keys come first
    split = "val" if "val_loss" in columns else "train"
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in values), []).append(row)
    variants = []
    for members in groups.values():
        seeds = [int(r["seed"]) for r in members]
        label = members[0]["file"].removesuffix(f"-seed{seeds[0]}")
        variants.append(
            GridVariant(
                label=label,
                seeds=seeds,
                files=[r["file"] for r in members],
                split=split,
                losses=[_number(r.get(f"{split}_loss")) for r in members],
                diverged=any(r.get("diverged_at") for r in members),
            )
        )
    return variants


def _number(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None

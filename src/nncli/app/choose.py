"""Which model of a sweep or comparison folder `evaluate` and `predict` use: the one named by
`--variant LABEL --seed N`, or the best variant's first seed."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from nncli.errors import UsageError, excerpt, excerpts
from nncli.fileio import read_json_mapping, read_regular_bytes
from nncli.runs.layout import (
    CHECKPOINT_FILE,
    MODELS_CSV_FILE,
    MODELS_DIR,
    SUMMARY_FILE,
    model_file,
)


@dataclass(frozen=True)
class GridVariant:
    """One variant of a grid folder, read from models.csv: its label and its models."""

    label: str  # the models' file label without `-seed<N>`: `lr=0.1_width=8`
    seeds: list[int]
    files: list[str]  # per seed: the model's file label (models.csv's `file` column)
    split: str  # the split its models are chosen on: val, or train when there is none
    losses: list[float | None]  # per seed: that split's loss (None where undefined)
    diverged: bool  # on any seed


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

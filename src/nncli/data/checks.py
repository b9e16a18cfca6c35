"""What the training split shows before a model trains on it: id columns, constant columns, a
column that alone gives the target away, values far out; and the error for missing cells. Pure
functions of typed cells, each finding one line that names the column, the figure and what to
set.

Only the training split is read, so no choice depends on the test rows. Everything is a sort or
a pass over each column: O(N log N) per column.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from nncli.config.data import DataConfig
from nncli.errors import excerpt, excerpts

# Fewer training rows than this, and a distinct integer per row is no sign of an id.
MIN_ID_ROWS = 20
# Fewer, and one column predicting the target is too likely by chance to be worth a warning.
MIN_LEAK_ROWS = 100
LEAK_SHARE = 0.99  # of the target explained (squared rank correlation) or rows predicted
# Per-value majority only for columns with at most this many values; more values overfit it.
MAX_RULE_VALUES = 20
FAR_SD = 20  # standard deviations from the training mean, in a column of many values
MAX_LINES = 4  # per check; the rest of the columns it flags share one line
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Plain words YAML reads as something other than a string (PyYAML reads YAML 1.1).
_YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n"}


def training_warnings(
    cells: pd.DataFrame, y: np.ndarray, data: DataConfig, *, classes: list | None, target: str
) -> tuple[str, ...]:
    """The warnings about the training rows' typed cells (`cells` (N, F), `y` (N,)): ids,
    constants, a column that gives the target away, values far out; () when there is nothing
    to say."""
    found: dict[str, list[tuple[str, str]]] = {}  # check -> (column, line)
    leaks = len(cells) >= MIN_LEAK_ROWS and cells.shape[1] > 1  # one column is the whole model
    y_ranks = _ranks(*_sorted_flags(y)) if classes is None and leaks else None  # (N,)
    for name in cells.columns:
        column = _Column(str(name), cells[name], y, cells.index)
        for check, line in column.findings(data, leaks, classes, target, y_ranks):
            found.setdefault(check, []).append((column.label, line))
    return tuple(line for check in ("id", "constant", "leak", "far")
                 for line in _grouped(found.get(check, []), check))  # fmt: skip


class _Column:
    """One feature column of the training split, sorted once for every check."""

    def __init__(self, label: str, column: pd.Series, y: np.ndarray, lines: pd.Index) -> None:
        self.label, self.lines, self.n = label, lines, len(column)
        self.numeric = column.dtype.kind == "f"
        x = column.to_numpy(dtype=np.float64) if self.numeric else _codes(column)
        self.present = ~np.isnan(x)
        self.whole = bool(self.present.all())
        self.x = x if self.whole else x[self.present]  # (M,) the cells that hold a value
        self.y = y if self.whole else y[self.present]
        self.order = np.argsort(self.x)  # ties in any order: every check reads whole groups
        self.xs = self.x[self.order]  # (M,) sorted
        self.new = np.ones(len(self.xs), dtype=bool)  # (M,) where a value starts
        self.new[1:] = self.xs[1:] != self.xs[:-1]
        self.distinct = int(self.new.sum())
        self.column = column

    def findings(self, data, leaks, classes, target, y_ranks) -> list[tuple[str, str]]:
        label, n = self.label, self.n
        if self.distinct == 1 and n > 1:
            value = f"{self.xs[0]:g}" if self.numeric else excerpt(self.column.dropna().iloc[0])
            return [("constant", _constant(label, value, n, data))]
        found = []
        if self.numeric and _is_id(self.xs, self.distinct, n):
            found.append(("id", _id(label, n, data)))
        if self.numeric and self.distinct > MAX_RULE_VALUES:  # a rare code or count is no error
            far = _far_out(label, self.x, self.lines, self.present)
            if far:
                found.append(("far", far))
        if not leaks or self.distinct < 2:
            return found
        ys = self.y[self.order]  # (M,) the target in the column's order
        if classes is None:
            if self.numeric:
                ry = y_ranks if self.whole else _ranks(*_sorted_flags(self.y))
                share = _rank_r2(_ranks(self.xs, self.new), ry[self.order])
                how = "squared rank correlation"
            else:
                share, how = _eta_squared(self.new, ys), "R² of its per-category means"
            if share is not None and share >= LEAK_SHARE:
                figure = f"explains {share:.1%} of {excerpt(target)} ({how} {share:.3f})"
                found.append(("leak", _leak(label, figure, data)))
            return found
        accuracy, baseline = _predicted(self.new, ys, len(classes))
        if accuracy is not None and accuracy >= LEAK_SHARE and 1 - accuracy <= (1 - baseline) / 2:
            figure = (f"predicts {excerpt(target)} in {accuracy:.1%} of the training rows"
                      f" (always the most frequent class: {baseline:.1%})")  # fmt: skip
            found.append(("leak", _leak(label, figure, data)))
        return found


def missing_cells(cells: pd.DataFrame, missing: np.ndarray, path: Path) -> str:
    """The error for missing feature cells (`missing` (N, F)): every column that has them, with
    its count and first line, in one line."""
    counts = missing.sum(axis=0)  # (F,)
    columns = np.flatnonzero(counts)
    shown = [
        f"{excerpt(cells.columns[j])} {counts[j]:,} (first on line"
        f" {cells.index[int(np.argmax(missing[:, j]))]})"
        for j in columns[:8]
    ]
    more = f", … ({len(columns) - 8} more columns)" if len(columns) > 8 else ""
    return (
        f"{path}: {int(counts.sum()):,} missing value(s) in {len(columns)} column(s):"
        f" {', '.join(shown)}{more}; fill them in the file, or set data.missing: drop (those"
        " rows left out) or data.missing: impute (filled from the training split)"
    )


def _codes(column: pd.Series) -> np.ndarray:
    """A categorical column's values as float codes, NaN where missing."""
    codes = pd.factorize(column, use_na_sentinel=True)[0].astype(np.float64)
    codes[codes < 0] = np.nan
    return codes


def _is_id(xs: np.ndarray, distinct: int, n: int) -> bool:
    """Every row present, a distinct integer in each: a row number or an id."""
    return n >= MIN_ID_ROWS and distinct == len(xs) == n and bool(np.all(xs == np.round(xs)))


def _far_out(label: str, x: np.ndarray, lines: pd.Index, present: np.ndarray) -> str | None:
    """The values more than FAR_SD standard deviations from the training mean, or None."""
    mean, sd = x.mean(), x.std()
    if not sd > 0:
        return None
    z = np.abs(x - mean) / sd
    far = z > FAR_SD
    if not far.any():
        return None
    worst = int(np.argmax(z))
    where = lines[present][far].tolist()
    return (
        f"{excerpt(label)}: {_rows(int(far.sum()))} more than {FAR_SD} standard deviations from"
        f" the training mean {mean:.4g} (sd {sd:.4g}), the farthest {x[worst]:.4g} at"
        f" {z[worst]:.0f} sd (line(s) {excerpts(where, 3)}): data errors? Fix or remove those"
        " rows in the file; left in, they can make training diverge at the default training.lr"
    )


def _rank_r2(rx: np.ndarray, ry: np.ndarray) -> float | None:
    """Squared Spearman correlation, from the two columns' ranks."""
    dx, dy = rx - rx.mean(), ry - ry.mean()
    spread = (dx * dx).sum() * (dy * dy).sum()  # not np.dot: BLAS threads fight over cores
    return float((dx * dy).sum() ** 2 / spread) if spread > 0 else None


def _eta_squared(new: np.ndarray, ys: np.ndarray) -> float | None:
    """The share of the target's variance the per-category means explain, for a column of a
    few categories (sorted, its categories starting at `new`)."""
    groups = np.cumsum(new) - 1  # (M,) category of each sorted row
    if groups[-1] + 1 > MAX_RULE_VALUES or not np.var(ys):
        return None
    means = np.bincount(groups, ys) / np.bincount(groups)
    return float(1 - np.mean((ys - means[groups]) ** 2) / np.var(ys))


def _sorted_flags(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(values)
    s = values[order]
    return s, np.r_[True, s[1:] != s[:-1]], order


def _ranks(xs: np.ndarray, new: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Average ranks (ties share theirs) of sorted values `xs` whose groups start at `new`;
    with `order`, put back in the original order."""
    index = np.arange(len(xs))
    starts = np.maximum.accumulate(np.where(new, index, 0))
    ends = np.flatnonzero(np.r_[new[1:], True])  # (G,) last position of each group
    ranks = (starts + ends[np.cumsum(new) - 1]) / 2
    if order is None:
        return ranks
    back = np.empty_like(ranks)
    back[order] = ranks
    return back


def _predicted(new: np.ndarray, ys: np.ndarray, n_classes: int) -> tuple[float | None, float]:
    """The best accuracy of a rule on one column's sorted values (its majority class per
    value when it has few, else at most `n_classes` intervals of values, each one class), or
    None where it cannot reach LEAK_SHARE; and the most frequent class's share."""
    m = len(ys)
    baseline = np.bincount(ys, minlength=n_classes).max() / m
    groups = np.cumsum(new) - 1  # (M,) value index of each sorted row
    n_groups = int(groups[-1]) + 1
    if n_groups <= MAX_RULE_VALUES:
        counts = np.bincount(groups * n_classes + ys, minlength=n_groups * n_classes)
        return counts.reshape(n_groups, n_classes).max(axis=1).sum() / m, baseline
    # Consecutive values whose rows all hold the same class are one item; any other value is
    # an item of its own with at least one row wrong. Within an interval no two neighbouring
    # items are both right, so R items in K intervals get at least (R - K) / 2 rows wrong.
    starts = np.flatnonzero(new)
    low, high = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    pure = np.where(low == high, low, -1)  # (G,) the class of a value's rows, -1 if mixed
    item = np.ones(n_groups, dtype=bool)
    item[1:] = (pure[1:] != pure[:-1]) | (pure[1:] < 0)
    n_items = int(item.sum())
    if (n_items - n_classes) / 2 > (1 - LEAK_SHARE) * m:
        return None, baseline
    items = (np.cumsum(item) - 1)[groups]  # (M,) item of each sorted row
    counts = np.bincount(items * n_classes + ys, minlength=n_items * n_classes)
    counts = counts.reshape(n_items, n_classes)  # (R, C)
    if counts.max(axis=1).sum() < LEAK_SHARE * m:  # not even one class per value gets there
        return None, baseline
    return _best_intervals(counts, n_classes) / m, baseline


def _best_intervals(counts: np.ndarray, k: int) -> int:
    """The most rows right when items in order (`counts` (R, C): rows of each class) are cut
    into at most `k` intervals, each answering one class."""
    # best[j, c]: rows right so far with j + 1 intervals, the last answering class c.
    best = np.full((k, counts.shape[1]), -np.inf)
    best[0] = counts[0]
    opened = np.full((k, 1), -np.inf)  # (K, 1): the best so far with one interval fewer
    for row in counts[1:]:
        opened[1:, 0] = best[:-1].max(axis=1)
        best = np.maximum(best, opened) + row
    return int(best.max())


def _leave_out(name: str, data: DataConfig) -> str:
    """How to make a column no feature: the YAML of data.ignore_columns with it added, or, when
    data.features lists the columns, to take it out of that list."""
    if data.features is not None:
        return "leave it out of data.features"
    shown = [_yaml(n) for n in [*data.ignore_columns, name]]
    return f"leave it out with data.ignore_columns: [{', '.join(shown)}]"


def _yaml(name: str) -> str:
    """A column name as YAML reads it back: plain where it can be, else double-quoted (JSON)."""
    if _PLAIN.fullmatch(name) and name.lower() not in _YAML_WORDS:
        return name
    return json.dumps(name, ensure_ascii=False)


def _id(label: str, n: int, data: DataConfig) -> str:
    return (
        f"{excerpt(label)}: a distinct integer in each of the {n:,} training rows, like a row"
        " number or an id; its order may follow the target (a file sorted by class or date),"
        f" and its values mean nothing to new rows: {_leave_out(label, data)}"
    )


def _constant(label: str, value: str, n: int, data: DataConfig) -> str:
    return (
        f"{excerpt(label)}: one value ({value}) in all {n:,} training rows, so it tells the"
        f" model nothing: {_leave_out(label, data)}"
    )


def _leak(label: str, figure: str, data: DataConfig) -> str:
    return (
        f"{excerpt(label)} alone {figure}: is it computed from the target, or known only with"
        f" it? If so, {_leave_out(label, data)}"
    )


def _rows(n: int) -> str:
    return f"{n:,} row{'' if n == 1 else 's'}"


def _grouped(found: list[tuple[str, str]], check: str) -> list[str]:
    """Each column's line, up to MAX_LINES; then one line for the rest."""
    if len(found) <= MAX_LINES:
        return [line for _, line in found]
    rest = [label for label, _ in found[MAX_LINES - 1 :]]
    what = {"id": "a distinct integer per row", "constant": "one value",
            "leak": "alone gives the target away", "far": "values far out"}[check]  # fmt: skip
    return [line for _, line in found[: MAX_LINES - 1]] + [
        f"{len(rest)} more columns with the same warning ({what}): {excerpts(rest)}"
    ]

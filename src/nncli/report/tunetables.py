"""A search's result (`nncli tune`, its summary.json) as text: the top trials by validation
loss, the best trial's parameters with its validation and test scores beside the baseline's.
The terminal's rich tables and the report page's rows are made from the same cells."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from nncli.config.keys import short_key, shown_value
from nncli.report.tables import format_value, safe
from nncli.runs import layout as runs

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import RenderableType

# What a search's figures show, for the report page's captions.
FIGURES = {
    runs.OPTIMIZATION_PLOT: "Each complete trial's validation loss by trial number; the red"
    " step line is the best so far.",
    runs.IMPORTANCE_PLOT: "How much each searched key matters to the validation loss over the"
    " complete trials (Optuna's PED-ANOVA importance; they sum to 1).",
}


def top_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the top trials, best (lowest val loss) first."""
    keys = list(summary["space"])
    metric = summary["headline"]
    header = [
        "trial",
        *(short_key(k, keys) for k in keys),
        "val loss",
        f"val {metric}",
        "test loss",
        f"test {metric}",
        "epochs",
    ]
    rows = []
    for record in summary["top"]:
        params = [_param(record["params"].get(k)) for k in keys]
        scores = [
            format_value(record[s].get(name), name)
            for s, name in (("val", "loss"), ("val", metric), ("test", "loss"), ("test", metric))
        ]
        rows.append([str(record["trial"]), *params, *scores, str(record.get("epochs"))])
    return header, rows


def best_lines(summary: dict) -> list[str]:
    """The best trial in words: chosen on validation, its test score beside, the baseline's."""
    best, metric = summary["best"], summary["headline"]
    params = ", ".join(f"{k}={_param(v)}" for k, v in best["params"].items())
    baseline = summary["baseline"]
    parts = []
    for split in ("val", "test"):
        value = best[split].get(metric)
        if value is None and best[split].get("loss") is None:
            continue
        blind = baseline.get(split, {}).get(metric)
        shown = f"{split} loss {format_value(best[split].get('loss'), 'loss')}, {split} {metric}"
        shown += f" {format_value(value, metric)}"
        if blind is not None:
            shown += f" (baseline {format_value(blind, metric)})"
        parts.append(shown)
    counts = summary["counts"]
    diverged, cut = counts.get("diverged"), counts.get("interrupted")
    done = f"{counts['complete']} complete, {counts['pruned']} pruned"
    done += f" ({diverged} diverged)" if diverged else ""
    done += f", {counts['fail']} failed" + (f" ({cut} cut short, asked again)" if cut else "")
    done += f"; --trials {summary['trials']}"
    return [
        f"best trial {best['trial']} (chosen on val loss): {params}",
        "; ".join(parts),
        done + f"; study {summary['study']} in {summary['storage']}",
    ]


def tune_result(summary: dict, *, quiet: bool) -> list[RenderableType]:
    """What `nncli tune` prints when it is done."""
    from rich.table import Table

    header, rows = top_rows(summary)
    table = Table(title=f"Top {len(rows)} trials by val loss")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if 0 < i <= len(summary["space"]) else "right")
    for row in rows:
        table.add_row(*(safe(cell) for cell in row))
    shown: list[RenderableType] = [table, *(safe(line) for line in best_lines(summary))]
    if not quiet and summary.get("importances"):
        ranked = sorted(summary["importances"].items(), key=lambda kv: -kv[1])
        shown.append(safe("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked)))
    shown.append(f"search saved to [bold]{safe(summary['out_dir'])}[/]")
    return shown


def html_section(summary: dict, table: Callable, number: type) -> str:
    """The report page's section: the best trial in words, the top trials as `table` draws
    them, the scores as `number` cells (right-aligned); nothing before the search finished."""
    if not summary.get("top"):
        return ""
    header, rows = top_rows(summary)
    keys = len(summary["space"])  # the parameter columns are text; the scores are numbers
    cells = [[number(c) if i == 0 or i > keys else c for i, c in enumerate(row)] for row in rows]
    lines = "".join(f"<p>{escape(line)}</p>" for line in best_lines(summary))
    return f"<h2>Search</h2>\n{lines}\n<h3>Top trials by val loss</h3>\n{table(header, cells)}"


def _param(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else shown_value(value)

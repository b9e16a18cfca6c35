"""report.html: a run, sweep, comparison or search folder as one self-contained page, built
from the folder's own files (run.json, config.yaml, metrics.json or summary.json, the PNG
figures), so `nncli report` can write one for a folder an older nncli left. Figures are embedded
as base64 data, and the page has no script and no outside link: it reads the same offline,
attached to an e-mail, or years later."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from nncli.config.keys import variant_label
from nncli.errors import UsageError
from nncli.fileio import JSON_LIMIT, atomic_write_text, read_regular_bytes
from nncli.metrics import PER_CLASS, metric_names
from nncli.report import gradients, tunetables
from nncli.report.describe import describe_times
from nncli.report.fit import over_seeds
from nncli.report.inputs import read_figures, read_grid_summary, read_status, read_train_summary
from nncli.report.tables import class_positions, format_value, metric_label
from nncli.runs import layout as runs

# What each figure shows, in the order the page shows them; any other PNG follows by name.
FIGURES = {
    runs.LOSS_PLOT_FILE: "Training and validation loss and metric by epoch; the ring marks the"
    " best epoch (lowest validation loss), a dotted line the kept one where it is another.",
    runs.FIT_PLOT_FILE: "The learned function over the training range and as far again beyond it.",
    runs.ERRORS_PLOT_FILE: "Predicted against true values, and each row's percentage error"
    " against its |target|: percentages explode as targets approach zero.",
    runs.ROC_PLOT_FILE: "The ROC curve: true against false positive rate as the threshold falls,"
    " with its area; the dotted diagonal is a random guess.",
    runs.PR_PLOT_FILE: "Precision against recall as the threshold falls, with the average"
    " precision; the dotted line is the positive share (calling every row positive).",
    runs.BOUNDARY_PLOT_FILE: "The predicted class over the input plane, with the training points.",
    runs.LOSS_CURVES_PLOT: "Loss by epoch per variant: the mean over seeds, the band from min"
    " to max; rings mark each seed's best epoch, an x where a seed diverged.",
    runs.METRIC_PLOT: "The headline metric on validation against each varied value (the mean"
    " over seeds, a bar a standard deviation either side): the star is the best, the dashed line"
    " the baseline.",
    runs.BOUNDARIES_PLOT: "Each variant's predicted class over the input plane (first seed),"
    " with the training points.",
    runs.FITS_PLOT: "Each variant's learned function (first seed), inside and beyond the training"
    " range.",
    runs.GRAD_NORMS_PLOT: "The weight-gradient norm of each layer, averaged over the first epoch;"
    " a triangle at the bottom is a layer with no gradient at all.",
    runs.GRAD_RATIO_PLOT: "The first layer's gradient over the output layer's, against each"
    " varied value: far below 1 is a vanishing gradient.",
    runs.ACTIVATIONS_PLOT: "Each activation and its derivative.",
    **tunetables.FIGURES,
}
# With one seed per variant there is no mean or spread to speak of.
ONE_SEED_FIGURES = {
    runs.LOSS_CURVES_PLOT: "Loss by epoch per variant (one seed each): rings mark each run's best"
    " epoch, an x where a run diverged.",
    runs.METRIC_PLOT: "The headline metric on validation against each varied value (one seed"
    " each): the star is the best, the dashed line the baseline.",
}

STYLE = """
body { margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222;
  font-family: system-ui, sans-serif, "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic",
    NanumGothic; }
pre { background: #f5f5f5; padding: 0.8em; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 2em; }
img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
.wide { overflow-x: auto; }
"""


def report_for(folder: Path) -> tuple[Path, bool]:
    """A folder's report.html, and whether it had to be written now (a folder from before nncli
    wrote one); a missing folder, or one that holds no run, is a UsageError."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise UsageError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder; give a run, sweep or comparison folder")
    path = folder / runs.REPORT_FILE
    if path.exists():
        return path, False
    kept = (runs.RUN_FILE, runs.METRICS_FILE, runs.SUMMARY_FILE)
    if not any((folder / name).exists() for name in kept):
        raise UsageError(f"{folder}: not a run folder (no {', '.join(kept)}), so no report")
    return write_report(folder), True


def write_report(folder: Path) -> Path:
    """Write (or rewrite) `folder`'s report.html from the files in it; return its path."""
    path = Path(folder) / runs.REPORT_FILE
    atomic_write_text(path, build_report(folder))
    return path


def build_report(folder: Path) -> str:
    """The page for a run, sweep or comparison folder; a file in it of the wrong shape is a
    UsageError naming the file (and the field, where the checks of `report/inputs.py` find it)."""
    folder = Path(folder)
    status = read_status(folder / runs.RUN_FILE)
    train = read_train_summary(folder / runs.METRICS_FILE)
    grid = read_grid_summary(folder / runs.SUMMARY_FILE)
    try:
        return _page(folder, status, train, grid)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # What the checks let through and the page still cannot show (a mean without its std).
        names = f"{runs.RUN_FILE}, {runs.METRICS_FILE} or {runs.SUMMARY_FILE}"
        raise UsageError(
            f"{folder}: {names} is malformed ({type(exc).__name__}); no report"
        ) from None


def _page(folder: Path, status: dict, train: dict, grid: dict) -> str:
    kind = status.get("kind") or (runs.TRAIN if train else runs.SWEEP).name
    parts = [f"<h1>{escape(folder.name)}</h1>", _facts(status, kind)]
    if status.get("warnings"):  # what the run warned of once trained
        items = "".join(f"<li>warning: {escape(w)}</li>" for w in status["warnings"])
        parts.append(f"<ul>{items}</ul>")
    if status.get("setup"):
        parts.append(f"<h2>Setup</h2>\n<pre>{escape(status['setup'])}</pre>")
    if train:
        parts.append(_train_section(train))
    parts.append(tunetables.html_section(grid, _table, _Number) if kind == runs.TUNE.name else "")
    if grid.get("results"):
        parts.append(_grid_section(grid, status.get("processes", 1)))
    one_seed = all(len(r.get("seeds") or [0]) == 1 for r in grid.get("results") or [])
    parts.append(_figures(folder, one_seed=one_seed))
    config = folder / runs.CONFIG_FILE
    if config.exists():
        text = read_regular_bytes(config, limit=JSON_LIMIT, what="config", follow_symlinks=False)
        parts.append(f"<h2>Config</h2>\n<pre>{escape(text.decode('utf-8', 'replace'))}</pre>")
    body = "\n".join(part for part in parts if part)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>nncli: {escape(folder.name)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _facts(status: dict, kind: str) -> str:
    """What run.json says: the command, when, where, and (unless it finished) how it ended."""
    facts = [runs.command_name(kind)]
    facts += [f"{key} {status[key]}" for key in ("created", "device") if status.get(key)]
    if status.get("status") not in (None, "running", "finished"):
        facts.append(f"status {status['status']}")
    if status.get("error"):
        facts.append(str(status["error"]))
    return f"<p>{escape('; '.join(facts))}</p>"


def _train_section(summary: dict) -> str:
    task, metrics = summary.get("task", ""), summary.get("metrics", {})
    kept = [
        f"{label} {summary[key]}"
        for key, label in (("epochs_run", "epochs run"), ("best_epoch", "best epoch"),
                           ("kept_epoch", "weights kept from epoch"), ("monitor", "monitored"))
        if key in summary
    ]  # fmt: skip
    if summary.get("loss_kind"):
        kept.append(f"train and val loss {summary['loss_kind']}")
    parts = [f"<h2>Metrics</h2>\n<p>{escape('; '.join(kept))}</p>"]
    positive = summary.get("positive_class")
    baseline = summary.get("baseline") or {}
    blind = [s for s in metrics if s in baseline]  # what a model ignoring its inputs scores
    rows = [
        [metric_label(name, positive),
         *(_Number(format_value(metrics[s].get(name), name)) for s in metrics),
         *(_Number(format_value(baseline[s].get(name), name)) for s in blind)]
        for name in metric_names(task)
    ]  # fmt: skip
    parts.append(_table(["metric", *metrics, *(f"{s} baseline" for s in blind)], rows))
    if blind:
        parts.append(
            "<p>baseline: what a model that ignores its inputs scores (the training split's"
            " majority class, or its mean)</p>"
        )
    classes = [str(c) for c in summary.get("classes", [])]
    at = class_positions(summary.get("class_order"), classes)  # data.class_order, or as kept
    for split, scores in metrics.items():
        if scores.get("per_class"):
            per_class = [
                [classes[i], *(_Number(format_value(scores["per_class"][i].get(m)))
                               for m in PER_CLASS),
                 _Number(str(scores["per_class"][i]["support"]))]
                for i in at
            ]  # fmt: skip
            parts.append(f"<h3>Per class ({escape(split)})</h3>")
            parts.append(_table(["class", *PER_CLASS, "support"], per_class))
        if scores.get("confusion_matrix"):
            full = scores["confusion_matrix"]
            matrix = [[classes[i], *(_Number(str(full[i][j])) for j in at)] for i in at]
            parts.append(f"<h3>Confusion ({escape(split)}): rows true, columns predicted</h3>")
            parts.append(_table(["true \\ predicted", *(classes[i] for i in at)], matrix))
    if summary.get("diagnostics"):
        parts.append(_gradients(*gradients.model_section(summary["diagnostics"])))
    return "\n".join(parts)


def _gradients(title: str, header: list[str], rows: list[list[str]], notes: list[str]) -> str:
    """`--diagnostics`' gradient table (its first column says what a row is) and what its words
    mean."""
    cells = [[row[0], *map(_Number, row[1:])] for row in rows]
    lines = "".join(f"<p>{escape(note)}</p>" for note in notes)
    return f"<h3>{escape(title)}</h3>\n{_table(header, cells)}\n{lines}"


def _grid_section(summary: dict, processes: int = 1) -> str:
    """A sweep's or comparison's results: a table of metrics per split, then how each variant
    trained, over its seeds (on `processes` processes)."""
    results = summary["results"]
    labels = [r.get("activation") or variant_label(r.get("values", {})) for r in results]
    one = all(len(r["seeds"]) == 1 for r in results)  # no spread: the value alone
    parts = [f"<h2>Results ({over_seeds(one)})</h2>"]
    best = summary.get("best")
    if best:
        chosen = (
            f"best on {best['split']} {best['metric']} ({'' if one else 'mean over seeds; '}test"
            f" is never used to choose): {best['variant']}"
            if best.get("variant")
            else f"no best variant: {best.get('reason', '')}"
        )
        notes = [f"{label} {r['chosen']}" for label, r in zip(labels, results, strict=True)
                 if str(r.get("chosen") or "").startswith("not chosen")]  # fmt: skip
        parts.append(f"<p>{escape('; '.join([chosen, *notes]))}</p>")
    for split in results[0]["metrics"]:
        names = list(results[0]["metrics"][split])
        rows = [
            [label, *(_Number(_mean_std(r["metrics"][split].get(n), n, one=one)) for n in names)]
            for label, r in zip(labels, results, strict=True)
        ]
        blind = (results[0].get("baseline") or {}).get(split)
        if blind is not None:
            rows.append(["baseline", *(_Number(format_value(blind.get(n), n)) for n in names)])
        parts.append(f"<h3>{escape(split)}</h3>")
        kind = summary.get("loss_kind")  # a loss that is not the log_loss or mse shown beside
        labels_ = [f"loss ({kind})" if n == "loss" and kind else
                   metric_label(n, summary.get("positive_class")) for n in names]  # fmt: skip
        parts.append(_table(["variant", *labels_], rows))
    columns = {
        "seeds": lambda r: " ".join(map(str, r["seeds"])),
        "best epoch": lambda r: _mean_std(r.get("best_epoch"), digits=1, one=one),
        "learned": lambda r: f"{r['learned']}/{len(r['seeds'])}",
        "diverged": lambda r: f"{r['diverged']}/{len(r['seeds'])}",
    }
    if "grad_ratio" in results[0]:
        columns |= {
            "grad first/out": lambda r: _mean_std(r["grad_ratio"], scientific=True, one=one),
            "dead": lambda r: _mean_std(r["dead_fraction"], digits=2, one=one),
            "saturated": lambda r: _mean_std(r["saturated_fraction"], digits=2, one=one),
        }
    rows = [
        [label, *(_Number(show(r)) for show in columns.values())]
        for label, r in zip(labels, results, strict=True)
    ]
    parts += ["<h3>Training</h3>", _table(["variant", *columns], rows)]
    if results[0].get("grad_norms"):
        parts.append(_gradients(*gradients.grid_section(labels, results)))
    if summary.get("stacks"):
        parts.append(f"<p>{escape(describe_times(summary['stacks'], processes))}</p>")
    return "\n".join(parts)


def _mean_std(
    stats: dict | None,
    metric: str = "",
    *,
    digits: int = 4,
    scientific: bool = False,
    one: bool = False,
) -> str:
    """`mean ± std`; with `one` seed the value alone."""
    if not stats or stats.get("mean") is None:
        return format_value(None, metric)
    shown = "{:.2e}" if scientific else f"{{:.{digits}f}}"
    spread = "" if one else " ± " + ("{:.1e}" if scientific else shown).format(stats["std"])
    return shown.format(stats["mean"]) + spread


class _Number(str):
    """A table cell to right-align."""


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table of text cells (escaped here); `_Number` cells are right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(cell)}</td>' if isinstance(cell, _Number)
            else f"<td>{escape(cell)}</td>"
            for cell in row
        )
        + "</tr>\n"
        for row in rows
    )  # fmt: skip
    return f'<div class="wide"><table>\n<tr>{head}</tr>\n{body}</table></div>'


def _figures(folder: Path, *, one_seed: bool = False) -> str:
    """Every PNG in the folder, embedded, with what it shows (`one_seed`: a grid of one seed
    per variant)."""
    found = sorted(p.name for p in folder.glob("*.png"))
    ordered = [name for name in FIGURES if name in found] + [
        name for name in found if name not in FIGURES
    ]
    if not ordered:
        return ""
    parts = ["<h2>Figures</h2>"]
    for name, data in read_figures(folder, ordered).items():
        encoded = base64.b64encode(data).decode("ascii")
        caption = (one_seed and ONE_SEED_FIGURES.get(name)) or FIGURES.get(name, "")
        parts.append(
            f'<figure id="{escape(name)}">\n<img src="data:image/png;base64,{encoded}"'
            f' alt="{escape(name)}">\n<figcaption><code>{escape(name)}</code>'
            f"{': ' + escape(caption) if caption else ''}</figcaption>\n</figure>"
        )
    return "\n".join(parts)

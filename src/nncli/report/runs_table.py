"""The table of `nncli runs`: one row per run folder, as wide as the terminal allows."""

from __future__ import annotations

from rich import box
from rich.cells import cell_len
from rich.table import Table

from nncli.errors import printable
from nncli.report.tables import format_value, safe
from nncli.runs.layout import run_kind


def runs_table(records: list[dict], directory: object, sort: str | None, *, width: int) -> Table:
    """`nncli runs`: one row per run folder, in `width` columns (80 on a common terminal).

    The run name (what `evaluate` takes) is never cut. Under it, indented, come the settings that
    differ from the other runs on the same data (a sweep's best variant first), wrapped, and the
    columns that do not fit beside a long name: epochs first, then data, then status, then the
    result. The creation time and the task are left to `--json`: default names carry the time,
    and the metric says the task.
    """
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from nncli.runs.listing import shown_settings

    results = [_result(r, sort) for r in records]
    labels = {label for label, _ in results}
    uniform = len(labels) == 1 and "" not in labels
    header = next(iter(labels)) if uniform else "result"
    # Mixed metrics (a regression among classifications) name theirs on a line above the value.
    shown = [value if uniform else f"{label}\n{value}".strip() for label, value in results]
    # Every cell is text a folder or its files chose: shown as `Text` (no markup), and with its
    # control characters visible, so that a hostile folder can neither restyle nor drive the
    # terminal.
    columns = {  # header: cells, in the order they give way to a long name (last first)
        "status": [printable(r["status"] or "-") for r in records],
        "data": [printable(r["source"] or "-") for r in records],
        "epochs": [str(r["epochs_run"] or "-") for r in records],
        header: shown,
    }
    # Headers may wrap at spaces (`test` over `accuracy`); cells keep their lines.
    widths = {
        key: max(cell_len(line) for c in [*key.split(), *cells] for line in c.split("\n"))
        for key, cells in columns.items()
    }
    names = [printable(r["run"]) for r in records]
    name_width = max((cell_len(name) for name in names), default=3)  # Hangul: 2 a letter
    kept = list(columns)
    while kept and name_width + sum(widths[k] + GAP for k in kept) > width:
        kept.remove(kept[-2] if len(kept) > 1 else kept[-1])  # the result goes last
    if header in kept:  # room to spare: the header on one line
        spare = width - name_width - sum(widths[k] + GAP for k in kept)
        widths[header] = min(max(widths[header], cell_len(header)), widths[header] + spare)

    def moved(key: str, i: int) -> str:
        """A cell of a column that gave way, as the line under the name shows it."""
        if key == header:
            return " ".join(filter(None, results[i]))
        return f"{columns[key][i]} epochs" if key == "epochs" else columns[key][i]

    details = []
    for i, (r, differs) in enumerate(zip(records, shown_settings(records), strict=True)):
        gone = [moved(k, i) for k in columns if k not in kept and columns[k][i] != "-"]
        kind = run_kind(r["kind"])  # a grid's `activation` says which variant was best
        grid = r["activation"] if kind is not None and not kind.single_model else ""
        details.append(printable("; ".join(filter(None, [", ".join(gone), grid, differs]))))
    table = Table(
        title=f"Runs in {safe(directory)}",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        width=name_width if name_width > width else None,  # wider than the terminal: it wraps
    )
    room = width - sum(widths[k] + GAP for k in kept)  # the names', and the details' under them
    widest = max([name_width, *(cell_len(d) + 2 for d in details)])
    table.add_column("run", width=max(name_width, min(room, widest)))
    for key in kept:
        justify = "left" if key in ("status", "data") else "right"
        table.add_column(Text(key), width=widths[key], justify=justify)
    for i in range(len(records)):
        name = Text(names[i], no_wrap=True, overflow="ignore")
        under = Padding(Text(details[i], style="dim"), (0, 0, 0, 2))
        cells = (Text(columns[k][i]) for k in kept)
        table.add_row(Group(name, under) if details[i] else name, *cells)
    return table


GAP = 2  # characters between two columns of the runs table


def _result(record: dict, sort: str | None) -> tuple[str, str]:
    """A run's sorted-by (or headline) metric: its label (`test accuracy`) and value."""
    metric = sort or record["headline"]
    if not metric or not record["split"]:
        return "", "-"
    value = format_value(record["metrics"].get(metric), metric)
    return printable(f"{record['split']} {metric}"), printable(value)

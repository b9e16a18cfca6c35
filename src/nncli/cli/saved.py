"""The commands on what training left behind: evaluate, predict, split, runs, report, config,
datasets.

Registered on the app in `cli.py`; heavy imports happen inside each, so `nncli --help` is fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from nncli import phases
from nncli.cli.options import (
    ConfigArgument,
    JsonOption,
    ModelArgument,
    RunArgument,
    SeedOption,
    SetOption,
    ThresholdOption,
    VariantOption,
    out_option,
)
from nncli.errors import printable
from nncli.fileio import to_json


class Split(str, Enum):
    train = "train"
    val = "val"
    test = "test"
    all = "all"


def evaluate(
    run: ModelArgument,
    split: Annotated[Split, typer.Option(help="Which split of the run's own data.")] = Split.test,
    data: Annotated[
        Path | None,
        typer.Option(help="Measure on this CSV instead (same feature columns, and the target)."),
    ] = None,
    threshold: ThresholdOption = None,
    variant: VariantOption = None,
    seed: SeedOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-measure a saved model on a split of its data or on a CSV file."""

    from nncli.app.saved import evaluate as evaluate_model
    from nncli.report.tables import confusion_table, make_console, metrics_table

    phases.mark("imports")
    result = evaluate_model(
        run, split=split.value, data=data, threshold=threshold, variant=variant, seed=seed
    )
    if as_json:
        print(to_json(result.to_json()))
        return
    console = make_console()
    for note in result.notes:
        typer.echo(f"note: {printable(note)}", err=True)
    title = f"{run}: {result.n_samples} rows"
    if result.threshold is not None:
        title += f", labels at threshold {result.threshold:g}"
    console.print(
        metrics_table(result.metrics, result.task, title=title, positive=result.positive_class)
    )
    if result.classes is not None:  # a classifier
        for name, values in result.metrics.items():
            matrix = values["confusion_matrix"]
            console.print(confusion_table(matrix, result.classes, title=f"Confusion ({name})",
                                          order=result.class_order))  # fmt: skip


def predict(
    run: ModelArgument,
    data: Annotated[Path | None, typer.Option(help="CSV with the model's feature columns.")] = None,
    split: Annotated[
        Split | None,
        typer.Option(
            help="Predict a split of the run's own data instead (train, val or test, as"
            " evaluate --split rebuilds it), each row's CSV line (or a built-in set's row) first.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        out_option(
            "Write predictions here (else stdout); a symlink, FIFO or device"
            " is written through, never replaced."
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(
            help="A column to put first in the output (every column that is not a feature is"
            " copied anyway)."
        ),
    ] = None,
    keep_features: Annotated[
        bool,
        typer.Option(
            "--keep-features",
            help="Copy the feature columns too (by default only the other columns are), for"
            " error analysis.",
        ),
    ] = False,
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows",
            help="Rows the model cannot read (a missing cell, an unseen category, not a"
            " number) get an empty prediction and a 'reason' column says why; without it,"
            " such rows stop predict, every problem listed.",
        ),
    ] = False,
    threshold: ThresholdOption = None,
    variant: VariantOption = None,
    seed: SeedOption = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Predict every row of a CSV (or of a split of the run's data): its other columns, the
    label (or value) and one probability per class. A target column is copied, not read: it may
    be blank or hold new labels."""
    from nncli.app.predicting import predict as predict_rows
    from nncli.errors import UsageError
    from nncli.fileio import atomic_write_text

    phases.mark("imports")
    if split is Split.all:
        raise UsageError("--split all: predict takes one split: train, val or test")
    if out is not None and out.exists() and not force:
        raise UsageError(f"{out}: already exists; pass --force to overwrite it")
    result = predict_rows(
        run,
        data,
        split=split.value if split else None,
        id_column=id_column,
        skip_bad_rows=skip_bad_rows,
        keep_features=keep_features,
        threshold=threshold,
        variant=variant,
        seed=seed,
    )
    for note in result.notes:
        typer.echo(f"note: {printable(note)}", err=True)
    if result.skipped:
        typer.echo(
            f"skipped {result.skipped} of {len(result.table)} row(s) the model cannot read"
            " (empty prediction; the reason column says why)",
            err=True,
        )
    table = result.table
    # The probabilities in full (shortest exact digits), so that each row read back sums to 1 as
    # computed; every other number to 8 digits, a float32's precision. Skipped rows stay empty.
    exact = {c: table[c].map(lambda v: "" if v != v or v is None else repr(float(v)))
             for c in table.columns if str(c).startswith("probability_")}  # fmt: skip
    text = table.assign(**exact).to_csv(index=False, float_format="%.8g", lineterminator="\n")
    if out is None:  # byte for byte into a pipe or file; a terminal is shown no control codes
        sys.stdout.write(printable(text) if sys.stdout.isatty() else text)
        return
    atomic_write_text(out, text, named_by_user=True)
    typer.echo(f"wrote {len(result.table)} predictions to {printable(out)}", err=True)


def export_split(
    run: RunArgument,
    out: Annotated[
        Path,
        out_option("Folder for train.csv, val.csv and test.csv."),
    ],
    force: Annotated[bool, typer.Option("--force", help="Overwrite those files.")] = False,
) -> None:
    """Write the rows of each split of a run's data as CSV files, exactly as the run split them.

    A CSV source's rows keep every column; split.json in the run folder lists their lines."""
    from nncli.app.saved import export_splits

    phases.mark("imports")
    written = export_splits(run, out, force=force)
    for split, count in written.items():
        typer.echo(f"wrote {count} rows to {printable(out / f'{split}.csv')}", err=True)


def list_runs(
    directory: Annotated[
        Path, typer.Argument(help="Folder holding run folders.", metavar="DIRECTORY")
    ] = Path("runs"),
    sort: Annotated[
        str | None,
        typer.Option(
            help="Sort by a metric, best first (e.g. f1, mse): each run's own best on it, read"
            " on the validation split (a sweep's variant chosen there), never test."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Only runs on this data: a dataset or file name (moons, iris.csv, iris),"
            " or a pattern (iris*)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="Only runs whose folder name contains this text, or matches it as a pattern"
            " (moons-2026*)."
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print exactly one JSON list on stdout, one record per run: run, path, kind,"
            " created, status, task, source, device, activation, epochs_run, split, headline,"
            " metrics, chosen_on, chosen_value, varied, differs (docs/commands.md: Listing"
            " runs).",
        ),
    ] = False,
) -> None:
    """List past runs, newest first: name, status, data, epochs, the settings that differ
    between them and the headline test metric. A folder that cannot be read is named on stderr
    and left out."""
    from nncli.report.runs_table import runs_table
    from nncli.report.tables import make_console
    from nncli.runs.listing import list_runs as find_runs

    phases.mark("imports")

    def skipped(message: str) -> None:
        typer.echo(f"warning: {printable(message)}", err=True)

    records = find_runs(directory, sort=sort, source=source, name=name, on_skipped=skipped)
    if as_json:
        print(to_json(records))
        return
    console = make_console()
    # crop=False: a name longer than the terminal is wide wraps there, and is never cut.
    console.print(runs_table(records, directory, sort, width=console.width), crop=False)


def show_report(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run, sweep or comparison folder.", metavar="RUN", show_default=False
        ),
    ],
    open_page: Annotated[
        bool,
        typer.Option(
            "--open/--no-open", help="Open it in the default web browser, where there is one."
        ),
    ] = True,
) -> None:
    """Print the path of a folder's report page and open it in the web browser.

    report.html holds the config, setup, metrics and every figure in one file; a folder
    without one (an older nncli's) gets one."""
    from nncli.report.html import report_for

    phases.mark("imports")
    path, written = report_for(run)
    if written:
        typer.echo(f"wrote {printable(path)}", err=True)
    typer.echo(printable(path))
    if open_page and not _open_in_browser(path):
        typer.echo("no web browser found here: open the file in one yourself", err=True)


def _open_in_browser(path: Path) -> bool:
    """Show `path` in the default web browser; False where there is none (a server, a
    container), or it would not start."""
    import webbrowser

    try:
        return bool(webbrowser.get().open(path.resolve().as_uri()))
    except (webbrowser.Error, OSError):
        return False


def show_config(config_path: ConfigArgument, overrides: SetOption = None) -> None:
    """Print the fully resolved config (defaults filled in), after --set overrides."""
    from nncli.config.loading import resolved_config_yaml

    phases.mark("imports")
    typer.echo(resolved_config_yaml(config_path, overrides or []), nl=False)


def datasets() -> None:
    """List the built-in datasets (any .csv path works too)."""
    from nncli.report.tables import datasets_table, make_console

    phases.mark("imports")
    make_console().print(datasets_table())

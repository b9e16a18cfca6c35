"""The command line: parse, call the library, print. The only place errors become exit codes.

Heavy imports (torch, scikit-learn, pandas) happen inside commands so `nncli --help` is fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from nncli.exitcodes import ErrorsToExitCodes
from nncli.fileio import to_json

app = typer.Typer(
    cls=ErrorsToExitCodes,
    name="nncli",
    help="Train, measure and understand multilayer perceptrons from a YAML config.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", metavar="KEY=VALUE", help="Override a config key, e.g. training.lr=0.1."
    ),
]
OptionalConfigArgument = Annotated[
    Path | None, typer.Argument(help="YAML config file.", dir_okay=False, show_default=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON object on stdout, nothing else.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress; only the result.")]
ConfigArgument = Annotated[
    Path, typer.Argument(help="YAML config file.", dir_okay=False, show_default=False)
]


def _progress_target(*, as_json: bool, quiet: bool):
    """Progress goes to stdout, or to stderr under --json (and only if that is a terminal)."""
    stream = sys.stderr if as_json else sys.stdout
    return stream, not quiet and (not as_json or stream.isatty())


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback on errors (any position).")
    ] = False,
) -> None:
    """nncli: train, measure and understand multilayer perceptrons."""


@app.command()
def train(
    config_path: OptionalConfigArgument = None,
    overrides: SetOption = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted run folder exactly where it stopped."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Exact run folder (new or empty); default runs/<name>-<time>."
        ),
    ] = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train the MLP a config describes; report metrics and save a run folder."""

    from nncli.commands import run_train
    from nncli.interrupts import stop_on_signals
    from nncli.progress import EpochProgress
    from nncli.report import make_console

    console = make_console(stderr=as_json)
    stream, show_progress = _progress_target(as_json=as_json, quiet=quiet)
    with (
        stop_on_signals() as stop,
        EpochProgress(stream, enabled=show_progress, on_pipe_closed=stop.pipe_closed) as bar,
    ):
        summary = run_train(
            config_path,
            overrides or [],
            out=out,
            resume=resume,
            should_stop=stop,
            on_epoch=bar,
            on_info=None if quiet or as_json else bar.print,
            on_warning=_warn,
        )
    if as_json:
        print(to_json(summary))
        return
    from nncli.report import confusion_table, metrics_table

    console.print(metrics_table(summary["metrics"], summary["task"], title="Metrics by split"))
    test_split = "test" if "test" in summary["metrics"] else "val"
    if summary["task"] == "classification" and not quiet and test_split in summary["metrics"]:
        matrix = summary["metrics"][test_split]["confusion_matrix"]
        console.print(
            confusion_table(matrix, summary["classes"], title=f"Confusion ({test_split})")
        )
    console.print(f"run saved to [bold]{summary['run_dir']}[/]")


SequentialOption = Annotated[
    bool, typer.Option("--sequential", help="Train the models one after another, not stacked.")
]
GridOutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Exact output folder (new or empty).")
]


def _warn(message: str) -> None:
    from nncli.report import make_console

    make_console(stderr=True).print(f"[yellow]warning:[/] {message}")


def _run_grid(command, *, as_json: bool, quiet: bool, table, saved: str, **options) -> None:
    """Run a sweep-like command with signals handled and progress shown; print its result as
    JSON, or as `table(result)` and where the folder is (`saved` says what it holds)."""
    from nncli.interrupts import stop_on_signals
    from nncli.progress import GridProgress
    from nncli.report import make_console

    stream, show_progress = _progress_target(as_json=as_json, quiet=quiet)
    with (
        stop_on_signals() as stop,
        GridProgress(stream, enabled=show_progress, on_pipe_closed=stop.pipe_closed) as progress,
    ):
        result = command(
            should_stop=stop,
            on_epoch=progress,
            on_stack=progress.start_stack,
            on_info=None if quiet or as_json else progress.print,
            on_warning=_warn,
            **options,
        )
    if as_json:
        print(to_json(result))
        return
    console = make_console()
    console.print(table(result))
    console.print(f"{saved} in [bold]{result['out_dir']}[/]")


@app.command("compare-activations")
def compare_activations(
    config_path: OptionalConfigArgument = None,
    overrides: SetOption = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted comparison folder exactly where it stopped."),
    ] = None,
    activations: Annotated[
        str | None,
        typer.Option(help="Comma-separated activations (default: every registered one)."),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            help="Seeds per activation: seed, seed+1, ... [default: 3]", show_default=False
        ),
    ] = None,
    sequential: SequentialOption = False,
    out: GridOutOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train the same network with every activation and several seeds, side by side."""
    from nncli.commands import run_compare
    from nncli.report import comparison_table

    names = (
        None if activations is None else [a.strip() for a in activations.split(",") if a.strip()]
    )
    _run_grid(
        partial(run_compare, config_path, overrides or []),
        as_json=as_json,
        quiet=quiet,
        table=lambda result: comparison_table(result["results"], result["task"]),
        saved="plots and per-model histories",
        activations=names,
        n_seeds=seeds,
        sequential=sequential,
        out=out,
        resume=resume,
    )


@app.command()
def sweep(
    config_path: OptionalConfigArgument = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            "-v",
            metavar="KEY=V1,V2,...",
            help="Values of a config key to try, e.g. training.lr=0.1,0.01 (repeat for a grid).",
        ),
    ] = None,
    overrides: SetOption = None,
    seeds: Annotated[
        int | None,
        typer.Option(help="Seeds per variant: seed, seed+1, ... [default: 1]", show_default=False),
    ] = None,
    diagnostics: Annotated[
        bool,
        typer.Option(
            "--diagnostics",
            help="Also measure first-epoch gradient norms per layer, dead and saturated units.",
        ),
    ] = False,
    sequential: SequentialOption = False,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted sweep folder exactly where it stopped."),
    ] = None,
    out: GridOutOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train every combination of --vary values x seeds side by side, and compare them."""
    from nncli.commands import run_sweep
    from nncli.report import sweep_table

    _run_grid(
        partial(run_sweep, config_path, overrides or []),
        as_json=as_json,
        quiet=quiet,
        table=lambda result: sweep_table(result["results"], result["task"], result["varied"]),
        saved="plots, per-model histories and checkpoints",
        vary=vary or [],
        n_seeds=seeds,
        sequential=sequential,
        diagnostics=diagnostics,
        out=out,
        resume=resume,
    )


RunArgument = Annotated[
    Path, typer.Argument(help="Run folder, or a model.safetensors checkpoint.", show_default=False)
]


class Split(str, Enum):
    train = "train"
    val = "val"
    test = "test"
    all = "all"


@app.command()
def evaluate(
    run: RunArgument,
    split: Annotated[Split, typer.Option(help="Which split of the run's own data.")] = Split.test,
    data: Annotated[
        Path | None,
        typer.Option(help="Measure on this CSV instead (same feature columns, and the target)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-measure a saved model on a split of its data or on a CSV file."""

    from nncli.evaluation import evaluate as evaluate_model
    from nncli.evaluation import open_model
    from nncli.report import confusion_table, make_console, metrics_table

    result = evaluate_model(run, split=split.value, data=data)
    if as_json:
        print(to_json(result))
        return
    _, card = open_model(run)
    by_split = result["metrics"] if split == Split.all and data is None else None
    label = data.name if data is not None else split.value
    metrics = by_split or {label: result["metrics"]}
    console = make_console()
    title = f"{run}: {result['n_samples']} rows"
    console.print(metrics_table(metrics, card.task, title=title))
    if card.task == "classification":
        for name, values in metrics.items():
            matrix = values["confusion_matrix"]
            console.print(confusion_table(matrix, card.classes, title=f"Confusion ({name})"))


@app.command()
def predict(
    run: RunArgument,
    data: Annotated[Path, typer.Option(help="CSV with the model's feature columns.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write predictions here (else stdout); a symlink, FIFO or device"
            " is written through, never replaced.",
        ),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="A column of the input to copy into the output.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Predict every row of a CSV: the label (or value) and one probability per class."""
    from nncli.errors import UsageError
    from nncli.evaluation import predict as predict_rows
    from nncli.fileio import atomic_write_text

    if out is not None and out.exists() and not force:
        raise UsageError(f"{out}: already exists; pass --force to overwrite it")
    table, _ = predict_rows(run, data, id_column=id_column)
    text = table.to_csv(index=False, float_format="%.8g", lineterminator="\n")
    if out is None:
        sys.stdout.write(text)
        return
    atomic_write_text(out, text, named_by_user=True)
    typer.echo(f"wrote {len(table)} predictions to {out}", err=True)


@app.command("runs")
def list_runs(
    directory: Annotated[Path, typer.Argument(help="Folder holding run folders.")] = Path("runs"),
    sort: Annotated[
        str | None, typer.Option(help="Sort by a test metric, best first (e.g. accuracy, mse).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List past runs: when, status, task, data, epochs and the headline test metric."""
    from nncli.report import make_console, runs_table
    from nncli.runs import list_runs as find_runs

    records = find_runs(directory, sort=sort)
    if as_json:
        print(to_json(records))
        return
    make_console().print(runs_table(records, directory, sort))


@app.command("config")
def show_config(config_path: ConfigArgument, overrides: SetOption = None) -> None:
    """Print the fully resolved config (defaults filled in), after --set overrides."""
    from nncli.commands import resolved_config_yaml

    typer.echo(resolved_config_yaml(config_path, overrides or []), nl=False)


@app.command()
def datasets() -> None:
    """List the built-in datasets (any .csv path works too)."""
    from nncli.report import datasets_table, make_console

    make_console().print(datasets_table())


def main() -> None:
    """Console-script entry point; accepts --debug in any position."""
    if "--debug" in sys.argv[1:]:
        ErrorsToExitCodes.debug = True
        sys.argv = [sys.argv[0], *(a for a in sys.argv[1:] if a != "--debug")]
    app()

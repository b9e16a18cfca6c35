"""The command line: parse, call the library, print. The only place errors become exit codes.

Heavy imports (torch, scikit-learn, pandas) happen inside commands so `nncli --help` is fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup


class _ErrorsToExitCodes(TyperGroup):
    """Turns nncli's errors into one line on stderr and an exit code; --debug re-raises."""

    def invoke(self, ctx: typer.Context) -> object:
        from nncli.errors import NncliError

        debug = _DEBUG or bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except NncliError as exc:
            if debug:
                raise
            for line in str(exc).splitlines() or [type(exc).__name__]:
                typer.echo(f"error: {line}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            if debug:
                raise
            typer.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug in nncli: one line, and the traceback on request
            if debug or isinstance(exc, typer.Exit | typer.Abort):
                raise
            typer.echo(
                f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True
            )
            ctx.exit(1)


# Set by main() when --debug appears anywhere on the command line, not only before the command.
_DEBUG = False

app = typer.Typer(
    cls=_ErrorsToExitCodes,
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
ConfigArgument = Annotated[
    Path, typer.Argument(help="YAML config file.", dir_okay=False, show_default=False)
]


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback on errors (any position).")
    ] = False,
) -> None:
    """nncli: train, measure and understand multilayer perceptrons."""


@app.command()
def train(
    config_path: ConfigArgument,
    overrides: SetOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Exact run folder (new or empty); default runs/<name>-<time>."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout, nothing else.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress; only the result.")
    ] = False,
) -> None:
    """Train the MLP a config describes; report metrics and save a run folder."""
    from rich.console import Console

    from nncli.commands import run_train
    from nncli.report import EpochProgress

    console = Console(stderr=as_json, soft_wrap=not sys.stdout.isatty())
    progress_stream = sys.stderr if as_json else sys.stdout
    show_progress = not quiet and (not as_json or progress_stream.isatty())
    with EpochProgress(progress_stream, enabled=show_progress) as progress:
        summary = run_train(
            config_path,
            overrides or [],
            out=out,
            on_epoch=progress,
            on_info=None if quiet or as_json else console.print,
        )
    for warning in summary.pop("warnings"):
        Console(stderr=True, soft_wrap=True).print(f"[yellow]warning:[/] {warning}")
    if as_json:
        print(json.dumps(summary))
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


@app.command("config")
def show_config(config_path: ConfigArgument, overrides: SetOption = None) -> None:
    """Print the fully resolved config (defaults filled in), after --set overrides."""
    from nncli.commands import resolved_config_yaml

    typer.echo(resolved_config_yaml(config_path, overrides or []), nl=False)


@app.command()
def datasets() -> None:
    """List the built-in datasets (any .csv path works too)."""
    from rich.console import Console
    from rich.table import Table

    from nncli.datasets import DATASETS

    table = Table(title="Built-in datasets (data.source)")
    for column in ("name", "task", "kind", "description"):
        table.add_column(column)
    for name, spec in DATASETS.items():
        kind = "synthetic" if spec.synthetic else "scikit-learn"
        table.add_row(name, spec.task, kind, spec.description)
    Console().print(table)


def main() -> None:
    """Console-script entry point; accepts --debug in any position."""
    global _DEBUG
    if "--debug" in sys.argv[1:]:
        _DEBUG = True
        sys.argv = [sys.argv[0], *(a for a in sys.argv[1:] if a != "--debug")]
    app()

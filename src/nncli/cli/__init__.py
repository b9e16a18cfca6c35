"""The command line: parse, call the library, print. The only place errors become exit codes.

One table, `COMMANDS`, names every command; `training.py` holds the three that train,
`saved.py` those that read what a run saved and `lessons.py` the course notes' lessons.

Heavy imports (torch, scikit-learn, pandas) happen inside commands so `nncli --help` is fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from nncli import phases
from nncli.cli.exitcodes import ErrorsToExitCodes
from nncli.cli.exporting import export
from nncli.cli.lessons import lessons
from nncli.cli.options import (
    Command,
    Group,
)
from nncli.cli.saved import (
    datasets,
    evaluate,
    export_split,
    list_runs,
    predict,
    show_config,
    show_report,
)
from nncli.cli.training import compare_activations, sweep, train
from nncli.cli.tuning import tune
from nncli.runs.layout import RUN_KINDS

app = typer.Typer(
    cls=Group,
    name="nncli",
    help="Train, measure and understand multilayer perceptrons from a YAML config.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: rich's costs 0.15 s of imports per --help
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"nncli {version('nncli')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback on errors (any position).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print nncli's version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """nncli: train, measure and understand multilayer perceptrons."""
    # What a command needs of the CLI itself, handed down rather than imported back: the entry
    # point, through which `lessons run` runs its commands (cli/lessons.py).
    ctx.obj = {"entry": entry}


# Every command, in the order `nncli --help` lists them: its name and the function that runs it.
COMMANDS = {
    "train": train,
    "compare-activations": compare_activations,
    "sweep": sweep,
    "tune": tune,
    "evaluate": evaluate,
    "predict": predict,
    "split": export_split,
    "export": export,
    "runs": list_runs,
    "report": show_report,
    "config": show_config,
    "datasets": datasets,
    "lessons": lessons,  # a group: `nncli lessons` lists them, `nncli lessons run N` runs one
}
for _name, _function in COMMANDS.items():
    if isinstance(_function, typer.Typer):
        app.add_typer(_function, name=_name)
    else:
        app.command(_name, cls=Command)(_function)


# The commands that run as one job under torchrun (docs/scaling-out.md).
LAUNCHED_COMMANDS = tuple(kind.command.split()[-1] for kind in RUN_KINDS.values() if kind.launched)


def main() -> None:
    """Console-script entry point; accepts --debug in any position."""
    phases.mark("startup")  # the interpreter, and the CLI's imports
    if "--debug" in sys.argv[1:]:
        ErrorsToExitCodes.debug = True
        sys.argv = [sys.argv[0], *(a for a in sys.argv[1:] if a != "--debug")]
    _refuse_launching(next((a for a in sys.argv[1:] if not a.startswith("-")), None))
    try:
        app()
    finally:
        phases.mark("output")  # what the command prints or writes after its last mark


def entry() -> None:
    """The `nncli` command and `python -m nncli`: `main`, then a quick exit (cli/fastexit.py)."""
    from nncli.cli.fastexit import exit_process

    try:
        main()
    except SystemExit as exc:
        exit_process(exc.code)
    exit_process(0)


def _refuse_launching(command: str | None) -> None:
    """Under torchrun, a command that does not train would run once per process: refused, in
    one message (rank 0's)."""
    from nncli.cli.exitcodes import launch_rank

    names = {info.name or info.callback.__name__ for info in app.registered_commands}
    names |= {info.name for info in app.registered_groups}
    one_process = names - set(LAUNCHED_COMMANDS)
    if command not in one_process or os.environ.get("WORLD_SIZE", "1") == "1":
        return
    if launch_rank() == 0:
        typer.echo(
            f"error: nncli {command} is not for torchrun: run it in one process (only"
            f" {', '.join(LAUNCHED_COMMANDS)} run across processes)",
            err=True,
        )
    raise SystemExit(2)

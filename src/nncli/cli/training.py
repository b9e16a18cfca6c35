"""The commands that train: `train`, `compare-activations` and `sweep`. Each parses its options,
opens one session (signals, progress, the torchrun group), calls the app layer and prints."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from nncli.cli.options import (
    DiagnosticsOption,
    GridOutOption,
    JsonOption,
    MaxModelsOption,
    OptionalConfigArgument,
    QuietOption,
    SequentialOption,
    SetOption,
    out_option,
)
from nncli.fileio import to_json
from nncli.grid.session import Session, Setup


def _progress_target(*, as_json: bool, quiet: bool):
    """Progress goes to stdout, or to stderr under --json (and only if that is a terminal)."""
    stream = sys.stderr if as_json else sys.stdout
    return stream, not quiet and (not as_json or stream.isatty())


@contextmanager
def command_session(progress_class, *, as_json: bool, quiet: bool) -> Iterator[Session]:
    """What a training command runs inside: the torchrun launch's process group (if it is in
    one), signals as stop requests, and its progress display, as one `Session`. Under torchrun
    only rank 0 shows progress and announces a stop."""
    from nncli.interrupts import stop_on_signals
    from nncli.report.drawing import Drawer, figure_workers
    from nncli.train.parallel import process_group

    # Started first, so the workers import matplotlib while this process imports torch; under
    # torchrun only rank 0 (RANK, before the group exists) draws.
    workers = figure_workers() if os.environ.get("RANK", "0") == "0" else 0
    with Drawer(workers) as drawer, process_group() as ranks:
        stream, show_progress = _progress_target(as_json=as_json, quiet=quiet or not ranks.leader)
        with (
            stop_on_signals(launched=ranks.distributed, announce=ranks.leader) as stop,
            progress_class(stream, enabled=show_progress, on_pipe_closed=stop.pipe_closed) as bar,
        ):
            talk = not quiet and not as_json
            yield Session(
                ranks=ranks,
                should_stop=stop,
                on_epoch=bar,
                on_stack=getattr(bar, "start_stack", None),  # a grid's progress only
                on_info=bar.print if talk else None,
                on_warning=_warn,
                on_setup=partial(_show_setup, bar) if talk else None,
                figures=drawer,
            )


def _show_setup(bar, setup: Setup) -> None:
    from nncli.report.describe import setup_markup

    for paragraph in setup_markup(setup):
        bar.print(paragraph, markup=True)


def train(
    config_path: OptionalConfigArgument = None,
    overrides: SetOption = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted run folder exactly where it stopped."),
    ] = None,
    out: Annotated[
        Path | None,
        out_option("Exact run folder (new or empty); default runs/<name>-<time>."),
    ] = None,
    diagnostics: DiagnosticsOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train the MLP a config describes; report metrics and save a run folder.

    Under torchrun every process trains its share of each batch (docs/scaling-out.md).
    """

    from nncli.report.progress import EpochProgress

    with command_session(EpochProgress, as_json=as_json, quiet=quiet) as session:
        from nncli.app.commands import run_train  # once the figure workers are starting
        from nncli.report.describe import describe_outcome

        result = run_train(config_path, overrides or [], out=out, resume=resume, session=session,
                           diagnostics=diagnostics)  # fmt: skip
        if result is not None:
            session.info(describe_outcome(result))  # above the progress bar, as it ends
    if result is None:  # under torchrun only rank 0 reports
        return
    if as_json:
        print(to_json(result.to_json()))
        return
    from nncli.report.results import train_result
    from nncli.report.tables import make_console

    console = make_console()
    for shown in train_result(result, quiet=quiet):
        console.print(shown)


def _warn(message: str) -> None:
    from nncli.report.tables import make_console, safe

    make_console(stderr=True).print(f"[yellow]warning:[/] {safe(message)}")


def _run_grid(
    command: str, arguments: tuple, *, as_json: bool, quiet: bool, saved: str, **options
) -> None:
    """Run a sweep-like command of `app.commands` with signals handled and progress shown;
    print its result as JSON, or as its table and where the folder is (`saved` says what it
    holds)."""
    from nncli.report.progress import GridProgress
    from nncli.report.results import grid_result
    from nncli.report.tables import make_console

    with command_session(GridProgress, as_json=as_json, quiet=quiet) as session:
        from nncli.app import commands  # once the figure workers are starting

        result = getattr(commands, command)(*arguments, session=session, **options)
    if result is None:  # under torchrun only rank 0 reports
        return
    if as_json:
        print(to_json(result.to_json()))
        return
    console = make_console()
    processes = session.ranks.world
    for shown in grid_result(result, quiet=quiet, processes=processes, saved=saved):
        console.print(shown)


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
    max_models: MaxModelsOption = None,
    out: GridOutOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train the same network with every activation and several seeds, side by side.

    Under torchrun the models are split across the processes (docs/scaling-out.md).
    """
    names = (
        None if activations is None else [a.strip() for a in activations.split(",") if a.strip()]
    )
    _run_grid(
        "run_compare",
        (config_path, overrides or []),
        as_json=as_json,
        quiet=quiet,
        saved="plots and per-model histories",
        activations=names,
        n_seeds=seeds,
        sequential=sequential,
        out=out,
        resume=resume,
        max_models=max_models,
    )


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
    diagnostics: DiagnosticsOption = False,
    sequential: SequentialOption = False,
    max_models: MaxModelsOption = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted sweep folder exactly where it stopped."),
    ] = None,
    out: GridOutOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train every combination of --vary values x seeds side by side, and compare them.

    Under torchrun the models are split across the processes (docs/scaling-out.md).
    """
    _run_grid(
        "run_sweep",
        (config_path, overrides or []),
        as_json=as_json,
        quiet=quiet,
        saved="plots, per-model histories and checkpoints",
        vary=vary or [],
        n_seeds=seeds,
        sequential=sequential,
        diagnostics=diagnostics,
        out=out,
        resume=resume,
        max_models=max_models,
    )

"""`nncli tune`: a hyperparameter search with Optuna, its trials trained stacked. Parses its
options, opens the session the training commands share, calls `app.tuning` and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nncli.cli.options import (
    JsonOption,
    OptionalConfigArgument,
    QuietOption,
    SetOption,
    out_option,
)
from nncli.cli.training import command_session
from nncli.fileio import to_json


def tune(
    config_path: OptionalConfigArgument = None,
    search: Annotated[
        list[str] | None,
        typer.Option(
            "--search",
            metavar="KEY=DIST",
            help="A key and its distribution: loguniform(a,b), uniform(a,b), int(a,b),"
            " logint(a,b) or choice(x,y,...), e.g. training.lr=loguniform(1e-4,1) (repeat).",
        ),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option(metavar="FILE.yaml", help="A YAML mapping of key to distribution."),
    ] = None,
    overrides: SetOption = None,
    trials: Annotated[
        int | None,
        typer.Option(
            help="Trials in the study, in all (with --resume, a new total) [default: 20]",
            show_default=False,
        ),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            help="Trials asked at once and trained stacked where their shapes agree [default: 8]",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            help="Seeds per trial; its value is their mean val loss [default: 1]",
            show_default=False,
        ),
    ] = None,
    sampler: Annotated[
        str | None,
        typer.Option(
            metavar="tpe|random", help="How trials are drawn [default: tpe]", show_default=False
        ),
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option(
            metavar="median|none",
            help="Stop trials whose val loss is worse than the median at an epoch"
            " [default: median]",
            show_default=False,
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="FILE|URL",
            help="Where the study lives, to share it between processes and machines: a"
            " journal file or a database URL [default: study.journal in the folder]",
            show_default=False,
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="The study's name in --storage [default: the folder's name]",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted search folder until it holds its trials."),
    ] = None,
    out: Annotated[
        Path | None,
        out_option("Exact search folder (new or empty); default runs/<name>-tune-<time>."),
    ] = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Search hyperparameters with Optuna: trials asked --batch at a time, trained stacked,
    pruned on val loss, the best chosen on validation with its test score beside it.
    """
    from nncli.report.progress import GridProgress

    request_options = dict(
        config_path=config_path,
        overrides=overrides or [],
        search=search or [],
        space=space,
        trials=trials,
        batch=batch,
        seeds=seeds,
        sampler=sampler,
        pruner=pruner,
        storage=storage,
        study=study,
        out=out,
        resume=resume,
    )
    with command_session(GridProgress, as_json=as_json, quiet=quiet) as session:
        from nncli.app.tunerequest import TuneRequest
        from nncli.app.tuning import run_tune

        summary = run_tune(TuneRequest(**request_options), session)
    if as_json:
        print(to_json(summary))
        return
    from nncli.report.tables import make_console
    from nncli.report.tunetables import tune_result

    console = make_console()
    for shown in tune_result(summary, quiet=quiet):
        console.print(shown)

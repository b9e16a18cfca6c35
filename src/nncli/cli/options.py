"""Arguments and options that several commands share, with their help texts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from nncli.cli.exitcodes import ErrorsToExitCodes

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


RunArgument = Annotated[
    Path, typer.Argument(help="Run folder, or a model.safetensors checkpoint.", show_default=False)
]
ModelArgument = Annotated[
    Path,
    typer.Argument(
        help="Run folder, sweep or comparison folder (one model: --variant, --seed), or a"
        " model.safetensors checkpoint.",
        show_default=False,
    ),
]


def _no_type(ctx: object) -> None:
    return None


def shown_as_flags(params: list) -> list:
    """Boolean flags without a type in `--help`.

    Typer 0.2x's rich help prints a type beside every option, `<bool>` beside flags too, though
    a flag takes no value (its plain help leaves it out): drop it for flags.
    """
    for param in params:
        if getattr(param, "is_flag", False):
            param.display_type_rich = _no_type
    return params


class Command(TyperCommand):
    """Every nncli command: its flags shown as flags in `--help`."""

    def get_params(self, ctx: typer.Context) -> list:
        return shown_as_flags(super().get_params(ctx))


class Group(ErrorsToExitCodes):
    """The `nncli` app: errors become exit codes; its flags shown as flags in `--help`."""

    def get_params(self, ctx: typer.Context) -> list:
        return shown_as_flags(super().get_params(ctx))


SequentialOption = Annotated[
    bool, typer.Option("--sequential", help="Train the models one after another, not stacked.")
]


GridOutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Exact output folder (new or empty).")
]


VariantOption = Annotated[
    str | None,
    typer.Option(
        "--variant",
        metavar="LABEL",
        help="In a sweep or comparison folder: the variant, as its models' files name it"
        " (lr=0.1_width=8); default: the variant the grid chose on validation.",
    ),
]
SeedOption = Annotated[
    int | None,
    typer.Option(
        "--seed", help="In a sweep or comparison folder: the variant's seed; default: its first."
    ),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        metavar="T",
        help="A binary model: the label is the positive class when its probability is >= T"
        " (default: the likelier class, as T=0.5).",
    ),
]

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
    Path | None,
    typer.Argument(help="YAML config file.", metavar="CONFIG", dir_okay=False, show_default=False),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON object on stdout, nothing else.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress; only the result.")]
ConfigArgument = Annotated[
    Path,
    typer.Argument(help="YAML config file.", metavar="CONFIG", dir_okay=False, show_default=False),
]


def out_path(text: str) -> Path:
    """An --out value: `''` would be the current folder (Path('') is '.'), never what was meant."""
    if not text:
        raise typer.BadParameter("empty path")
    return Path(text)


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


def _path_type(ctx: object) -> str:
    return "<path>"


def shown_as_flags(params: list) -> list:
    """Boolean flags without a type in `--help`, and `--out` as the `<path>` it is.

    Typer 0.2x's rich help prints a type beside every option, `<bool>` beside flags too, though
    a flag takes no value (its plain help leaves it out): drop it for flags. An option read by
    `out_path` would show `<Path>`, the class's name.
    """
    for param in params:
        if getattr(param, "is_flag", False):
            param.display_type_rich = _no_type
        info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
        if getattr(info, "parser", None) is out_path:
            param.display_type_rich = _path_type
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


MaxModelsOption = Annotated[
    int | None,
    typer.Option(
        "--max-models",
        metavar="N",
        min=1,
        help="Refuse a grid of more than N models (variants x seeds), before making any"
        " [default: 10,000]",
        show_default=False,
    ),
]


GridOutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", parser=out_path, help="Exact output folder (new or empty)."),
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

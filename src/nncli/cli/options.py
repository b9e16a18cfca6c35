"""Arguments and options that several commands share, with their help texts."""

from __future__ import annotations

import re
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
    Path,
    typer.Argument(
        help="Run folder, or a model.safetensors checkpoint.", metavar="RUN", show_default=False
    ),
]
ModelArgument = Annotated[
    Path,
    typer.Argument(
        help="Run folder, sweep or comparison folder (one model: --variant, --seed), or a"
        " model.safetensors checkpoint.",
        metavar="RUN",
        show_default=False,
    ),
]


class Command(TyperCommand):
    """Every nncli command: its whole first sentence in `nncli --help`'s list of commands."""

    def get_short_help_str(self, limit: int = 45) -> str:
        # click cuts the summary at about 45 characters with "..."; the list wraps it instead.
        paragraph = " ".join((self.help or "").split("\n\n")[0].split())
        return re.split(r"(?<=\.) ", paragraph, maxsplit=1)[0]


Group = ErrorsToExitCodes


SequentialOption = Annotated[
    bool, typer.Option("--sequential", help="Train the models one after another, not stacked.")
]


DiagnosticsOption = Annotated[
    bool,
    typer.Option(
        "--diagnostics",
        help="Also measure each layer's first-epoch gradient (printed as a table, with its ratio"
        " to the output layer's), dead and saturated units.",
    ),
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


def out_option(help: str, **settings):
    """`--out`/`-o <path>` as every command spells it, with the command's own help."""
    return typer.Option("--out", "-o", parser=out_path, metavar="<path>", help=help, **settings)


GridOutOption = Annotated[Path | None, out_option("Exact output folder (new or empty).")]


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

"""Arguments and options that several commands share, with their help texts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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

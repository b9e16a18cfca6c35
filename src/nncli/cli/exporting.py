"""`nncli export`: a saved model as a file to serve elsewhere (ONNX), and its sidecar JSON."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from nncli import phases
from nncli.cli.options import JsonOption, ModelArgument, SeedOption, VariantOption, out_option
from nncli.errors import printable
from nncli.fileio import to_json


class Format(str, Enum):
    onnx = "onnx"


def export(
    run: ModelArgument,
    format: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="onnx: an ONNX graph for ONNX Runtime and other runtimes (needs the onnx"
            " extra: pip install 'nncli[onnx]').",
        ),
    ] = Format.onnx,
    out: Annotated[
        Path | None,
        out_option(
            "The file to write (default: beside the checkpoint, model.onnx); its sidecar"
            " is the same name with .json added.",
            show_default=False,
        ),
    ] = None,
    variant: VariantOption = None,
    seed: SeedOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the file and its sidecar.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Export a saved model as an ONNX file to serve without nncli, and a sidecar JSON.

    The network takes the features in the model card's order (categories one-hot) with its input
    scaling folded in, and gives the class probabilities and label (or the value in the target's
    units); the sidecar says the input's columns, categories, outputs and classes."""
    from nncli.app.exporting import export_model

    phases.mark("imports")
    result = export_model(
        run, format=format.value, out=out, force=force, variant=variant, seed=seed
    )
    for note in result.notes:
        typer.echo(f"note: {printable(note)}", err=True)
    if as_json:
        print(to_json(result.to_json()))
        return
    typer.echo(f"wrote {printable(result.model)} and {printable(result.sidecar)}", err=True)

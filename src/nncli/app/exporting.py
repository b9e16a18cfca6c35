"""`nncli export`: a saved model as a file another runtime serves (ONNX), with a sidecar JSON
that says how a table's columns become its input and what its outputs hold."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from nncli import phases
from nncli.app.choose import checkpoint_of, open_model
from nncli.data.encoding import CATEGORICAL
from nncli.errors import UsageError, excerpt
from nncli.fileio import atomic_write_all, read_json_mapping, to_json
from nncli.model.card import ModelCard, positive_name
from nncli.model.serving import INPUT_NAME, OUTPUTS, ServedModel
from nncli.runs.layout import RUN_FILE, command_name

SIDECAR_SUFFIX = ".json"  # FILE.onnx's sidecar is FILE.onnx.json: never the model file itself
# 17: read by every ONNX Runtime since 1.13 and most other runtimes; every activation has an
# operator there (GELU as its erf formula, the step as Greater and Cast).
ONNX_OPSET = 17
ROWS = "rows"  # the name of the inputs' and outputs' first axis, of any length


@dataclass(frozen=True)
class ExportFormat:
    suffix: str  # of the default file name
    package: str  # the module it needs, from the extra of the same name


# Every format `nncli export --format` writes.
FORMATS = {"onnx": ExportFormat(".onnx", "onnx")}


@dataclass(frozen=True)
class Exported:
    """What `nncli export` wrote."""

    format: str
    model: Path
    sidecar: Path
    inputs: list[str]  # the input's columns, in order
    outputs: list[str]
    notes: list[str]  # which model of a grid folder it exported

    def to_json(self) -> dict:
        """What `nncli export --json` prints."""
        return {"format": self.format, "model": str(self.model), "sidecar": str(self.sidecar),
                "inputs": self.inputs, "outputs": self.outputs,
                "notes": self.notes}  # fmt: skip


def export_model(
    target: Path,
    *,
    format: str = "onnx",
    out: Path | None = None,
    force: bool = False,
    variant: str | None = None,
    seed: int | None = None,
) -> Exported:
    """Write the model of a finished run (or a grid folder's, or a checkpoint) as `out` (by
    default beside its checkpoint) and its sidecar `out.json`; existing files only with
    `force`."""
    spec = FORMATS[format]
    _require(spec.package, format)
    target = Path(target)
    if target.is_dir():
        _require_finished(target)
    net, card, chosen = open_model(target, variant=variant, seed=seed)
    checkpoint, _ = checkpoint_of(target, variant=variant, seed=seed)
    named = out is not None
    model_path = Path(out).expanduser() if named else checkpoint.with_suffix(spec.suffix)
    sidecar_path = model_path.with_name(model_path.name + SIDECAR_SUFFIX)
    for path in (model_path, sidecar_path):
        if path.is_dir():
            raise UsageError(f"{path}: is a folder; give a file name")
        if path.exists() and not path.is_file():  # /dev/stdout: no place for a sidecar beside
            raise UsageError(f"{path}: not a regular file; export writes a file and its sidecar")
        if path.exists() and not force:
            raise UsageError(f"{path}: already exists; pass --force to overwrite it")
    phases.mark("model")
    served = ServedModel(net, card).eval()
    data = _onnx_bytes(served, len(card.feature_names))
    phases.mark("export")
    sidecar = describe(card, served.output_names, model_path.name)
    atomic_write_all({model_path: data, sidecar_path: (to_json(sidecar, indent=2) + "\n").encode()},
                     named_by_user=named)  # fmt: skip
    return Exported(format, model_path, sidecar_path, list(card.feature_names),
                    served.output_names, [chosen] if chosen else [])  # fmt: skip


def _require(package: str, format: str) -> None:
    """The optional extra a format needs, imported only by this command."""
    try:
        __import__(package)
    except ImportError as exc:
        raise UsageError(
            f"--format {format}: needs the {package} package ({exc}); install it with:"
            f" pip install 'nncli[{package}]'"
        ) from None


def _require_finished(folder: Path) -> None:
    """A run folder that says it finished: an interrupted run's model.safetensors may be from
    before its last epochs (a resume trains on), and a failed run's is none."""
    if not (folder / RUN_FILE).exists():
        return  # a folder of checkpoints, not a run's: open_model says what it lacks
    record = read_json_mapping(folder / RUN_FILE)
    status = record.get("status")
    if status == "finished":
        return
    hint = (
        f"; finish it first: {command_name(record.get('kind'))} --resume {folder}"
        if status == "interrupted"
        else ""
    )
    raise UsageError(f"{folder}: the run is {excerpt(status)}, not finished, so it has no final"
                     f" model to export{hint}")  # fmt: skip


def _onnx_bytes(served, n_inputs: int) -> bytes:
    """The served network traced by torch's TorchScript-based ONNX exporter: it needs only the
    onnx package (the torch.export-based one also needs onnxscript, and takes seconds more)."""
    import torch
    import torch.onnx

    rows = torch.zeros(2, n_inputs, dtype=torch.float64)  # any values: nothing branches on them
    names = served.output_names
    axes = {name: {0: ROWS} for name in (INPUT_NAME, *names)}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch warns that this exporter is deprecated in favour of the one needing onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(served, (rows,), buffer, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=[INPUT_NAME], output_names=names,
                          dynamic_axes=axes)  # fmt: skip
    return buffer.getvalue()


def describe(card: ModelCard, outputs: list[str], model_file: str) -> dict:
    """The sidecar: how a table's columns become the input (order, one-hot categories, missing
    cells), what each output holds, the classes, and the nncli that wrote it."""
    from importlib.metadata import version

    encoder, start, columns = card.encoder, 0, []
    for code in encoder.columns:
        width = len(code.inputs)
        column = {"name": code.name, "kind": code.kind, "inputs": list(range(start, start + width))}
        if code.kind == CATEGORICAL:
            column["categories"] = list(code.categories)
        column["fill"] = code.fill
        columns.append(column)
        start += width
    unknown = "all 0.0" if encoder.unknown == "zeros" else "refused, as nncli predict refuses it"
    return {
        "nncli": version("nncli"),
        "model_file": model_file,
        "task": card.task,
        "target": card.target_name,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float64",
            "shape": [ROWS, len(card.feature_names)],
            "features": list(card.feature_names),
        },
        "columns": columns,
        "encoding": {
            "numeric": "the number itself (the network scales it)",
            "categorical": "one input per category, in `categories` order: 1.0 at the row's"
            f" category, 0.0 at the others; a category not listed: {unknown}",
            "missing": "a blank cell or one of `missing_values`: the column's `fill` (null: the"
            " model fills in none, so such a row cannot be predicted)",
            "missing_values": list(encoder.missing_values),
            "unknown_categories": encoder.unknown,
        },
        "outputs": [{"name": name, "holds": OUTPUTS[card.task][name]} for name in outputs],
        "classes": card.classes,
        "positive_class": positive_name(
            card.config.get("data", {}).get("positive_class"), card.classes
        ),
        "activation": card.activation,
        "sizes": card.sizes,
        "opset": ONNX_OPSET,
    }

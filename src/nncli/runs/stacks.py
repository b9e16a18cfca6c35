"""A grid's model files: a stack (or part of one) as one safetensors file, with each model's
record and the stack's training time, so an interrupted grid resumes at the stack it was in."""

from __future__ import annotations

import json
from pathlib import Path

from nncli.config.schema import Config
from nncli.errors import UsageError
from nncli.fileio import read_json_mapping
from nncli.runs.layout import PARTIAL_DIR, UNITS_FILE


def save_models(path: Path, fits: list) -> None:
    """Trained models of one stack (or part of one), with their records and training time."""
    from dataclasses import asdict

    from safetensors.torch import save

    from nncli.fileio import atomic_write_bytes

    tensors = {
        f"{k}.{name}": t.detach().contiguous()
        for k, f in enumerate(fits)
        for name, t in f.net.state_dict().items()
    }
    records = json.dumps([asdict(f.record) for f in fits])
    seconds = json.dumps(fits[0].stack_seconds)
    atomic_write_bytes(path, save(tensors, metadata={"records": records, "seconds": seconds}))


def load_models(path: Path, configs: list[Config], data) -> tuple[list, list, float | None]:
    """`save_models`' file back: the models of `configs`, their records and training time."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from nncli.model.mlp import build_mlp, layer_sizes
    from nncli.runs.checkpoint import read_metadata
    from nncli.runs.state import record_from_json

    try:
        raw = path.read_bytes()
        tensors = load(raw)
        metadata = read_metadata(raw)
        records = [record_from_json(r) for r in json.loads(metadata["records"])]
        seconds = json.loads(metadata.get("seconds", "null"))
        nets = []
        sizes = layer_sizes(data.n_features, configs[0].model.widths, data.n_outputs)  # shared
        for k, config in enumerate(configs):
            net = build_mlp(sizes, config.model.activation)
            prefix = f"{k}."
            net.load_state_dict(
                {n[len(prefix) :]: t for n, t in tensors.items() if n.startswith(prefix)}
            )
            nets.append(net)
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise UsageError(f"{path}: cannot read a finished stack back: {exc}") from None
    return nets, records, seconds


def read_units(folder_path: Path) -> dict | None:
    """`partial/units.json` of a split sweep (its parts and resume info), if there is one."""
    path = folder_path / PARTIAL_DIR / UNITS_FILE
    if not path.exists():
        return None
    return read_json_mapping(path)

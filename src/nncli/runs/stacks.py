"""A grid's model files: a stack (or part of one) as one safetensors file, with each model's
record and the stack's training time, so an interrupted grid resumes at the stack it was in."""

from __future__ import annotations

import json
from pathlib import Path

from nncli.config.schema import Config
from nncli.errors import DamagedFileError, UsageError, clipped
from nncli.fileio import read_json_mapping
from nncli.runs.layout import PARTIAL_DIR, UNITS_FILE

STACK_FORMAT = "nncli-stack"
STACK_FORMAT_VERSION = 1


def models_identity(configs: list[Config]) -> str:
    """Which models a stack file holds, in order: a hash of their configs (what makes each one
    itself: its seed, its varied values), so a stale, swapped or foreign file is refused."""
    import hashlib

    shown = [config.model_dump(mode="json", exclude={"name", "output"}) for config in configs]
    text = json.dumps(shown, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_models(path: Path, fits: list) -> None:
    """Trained models of one stack (or part of one), with their records, training time, the
    file's format and the identity of the models it holds."""
    from dataclasses import asdict

    from safetensors.torch import save

    from nncli.fileio import atomic_write_bytes

    tensors = {
        f"{k}.{name}": t.detach().contiguous()
        for k, f in enumerate(fits)
        for name, t in f.net.state_dict().items()
    }
    metadata = {
        "format": STACK_FORMAT,
        "format_version": str(STACK_FORMAT_VERSION),
        "models": models_identity([f.config for f in fits]),
        "records": json.dumps([asdict(f.record) for f in fits]),
        "seconds": json.dumps(fits[0].stack_seconds),
    }
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_models(path: Path, configs: list[Config], data) -> tuple[list, list, float | None]:
    """`save_models`' file back: the models of `configs`, their records and training time.

    Read bounded and only as a regular file (a FIFO or /dev/zero in its place fails at once); a
    file of another format, for other models, or holding non-finite weights for a model that
    did not diverge is a DamagedFileError naming it.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    from nncli.model.mlp import build_mlp, layer_sizes
    from nncli.runs.checkpoint import checkpoint_limit
    from nncli.runs.state import record_from_json
    from nncli.runs.tensorfile import read_tensor_file

    try:
        # Its header first: a file whose loading would not fit in memory is refused unread.
        raw, header = read_tensor_file(path, limit=checkpoint_limit(), what="finished stack")
    except DamagedFileError:
        raise
    except UsageError as exc:
        raise DamagedFileError(str(exc)) from None
    except ValueError as exc:
        raise DamagedFileError(f"{path}: cannot read a finished stack back: {exc}") from None
    try:
        metadata = header.metadata
        if metadata.get("format") != STACK_FORMAT:
            raise ValueError("not an nncli stack file")
        if metadata.get("format_version") != str(STACK_FORMAT_VERSION):
            version = clipped(str(metadata.get("format_version")), 20)
            raise ValueError(f"saved in format {version!r}, this nncli reads format 1")
        if metadata.get("models") != models_identity(configs):
            raise ValueError("it holds other models than these (a stale or swapped file)")
        tensors = load(raw)
        del raw  # the tensors are copies
        records = [record_from_json(r) for r in json.loads(metadata["records"])]
        if len(records) != len(configs):
            raise ValueError(f"{len(records)} records for {len(configs)} models")
        seconds = json.loads(metadata.get("seconds", "null"))
        if seconds is not None and not isinstance(seconds, int | float):
            raise ValueError("seconds is not a number")
        nets = []
        sizes = layer_sizes(data.n_features, configs[0].model.widths, data.n_outputs)  # shared
        for k, (config, record) in enumerate(zip(configs, records, strict=True)):
            net = build_mlp(sizes, config.model.activation)
            prefix = f"{k}."
            weights = {n[len(prefix) :]: t for n, t in tensors.items() if n.startswith(prefix)}
            if record.diverged is None and not all(
                bool(t.isfinite().all()) for t in weights.values()
            ):
                raise ValueError(f"model {k} holds weights that are not finite numbers")
            net.load_state_dict(weights)
            nets.append(net)
        foreign = set(tensors) - {
            f"{k}.{name}" for k in range(len(nets)) for name in nets[k].state_dict()
        }
        if foreign:
            raise ValueError(f"tensor {sorted(foreign)[0]!r} belongs to no model of this stack")
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, RuntimeError,
            OverflowError, RecursionError) as exc:  # fmt: skip
        detail = clipped(" ".join(str(exc).split()), 200)
        raise DamagedFileError(f"{path}: cannot read a finished stack back: {detail}") from None
    return nets, records, seconds


def read_units(folder_path: Path) -> dict | None:
    """`partial/units.json` of a split sweep (its parts and resume info), if there is one."""
    path = folder_path / PARTIAL_DIR / UNITS_FILE
    if not path.exists():
        return None
    return read_json_mapping(path)

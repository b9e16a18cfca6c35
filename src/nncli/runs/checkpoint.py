"""The checkpoint format: one safetensors file, so loading one can never execute code.

Tensors are the `state_dict` of a plain `nn.Sequential` (`0.weight`, `0.bias`, `2.weight`, ...).
The safetensors header's string metadata holds `format` ("nncli.checkpoint"), `format_version`
and `nncli`: a JSON object with the resolved config, the task, layer sizes, activation, feature
and target names, class labels, the feature encoding (categories, imputed values) and the feature
and target scalers. docs/checkpoint.md has it all.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from nncli.data.preprocessing import Scaler
from nncli.errors import UsageError, clipped, excerpt
from nncli.fileio import atomic_write_bytes
from nncli.memory import memory_bytes
from nncli.model.card import ModelCard
from nncli.model.mlp import build_mlp
from nncli.runs.tensorfile import read_tensor_file
from nncli.tasks import TASKS

FORMAT = "nncli.checkpoint"
# 2 added `encoding`; a version-1 card is read as numeric columns with nothing to impute.
FORMAT_VERSION = 2


def save_checkpoint(path: Path, net: nn.Sequential, card: ModelCard) -> None:
    from safetensors.torch import save

    tensors = {name: t.detach().cpu().contiguous() for name, t in net.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "nncli": json.dumps(asdict(card)),
    }
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_checkpoint(path: Path, *, follow_symlinks: bool = True) -> tuple[nn.Sequential, ModelCard]:
    """Load a checkpoint as a plain `nn.Sequential` plus its card; never unpickles anything.

    One inside a run folder is read with `follow_symlinks=False`: nncli never writes a symlink
    there, so one is foreign.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        # Its header first: a file whose loading would not fit in memory is refused unread.
        data, header = read_tensor_file(path, limit=checkpoint_limit(), what="checkpoint",
                                        follow_symlinks=follow_symlinks)  # fmt: skip
        tensors = load(data)
        del data  # the tensors are copies: the bytes need not stay beside them
        metadata = header.metadata
    except (SafetensorError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path}: not a readable nncli checkpoint (safetensors could not parse it: {exc});"
            " pickled .pt/.pth files are never loaded"
        ) from None
    if metadata.get("format") != FORMAT:
        raise UsageError(f"{path}: a safetensors file, but not an nncli checkpoint")
    version = metadata.get("format_version", "")
    if not (version.isascii() and version.isdigit() and len(version) <= 9):
        raise UsageError(f"{path}: checkpoint format_version {excerpt(version)} is not a number")
    if int(version) > FORMAT_VERSION:
        raise UsageError(
            f"{path}: checkpoint format {version} is newer than this nncli reads"
            f" (up to {FORMAT_VERSION}); upgrade nncli"
        )
    try:
        card = ModelCard(**json.loads(metadata["nncli"]))
        _check_card(card)
        # On the meta device nothing is allocated, so absurd sizes cost nothing before the check.
        net = build_mlp(card.sizes, card.activation, device="meta")
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        detail = clipped(str(exc), 200)
        raise UsageError(
            f"{path}: checkpoint metadata is incomplete or invalid: {detail}"
        ) from None
    if not all(t.is_floating_point() for t in tensors.values()):
        dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in tensors.values()})
        raise UsageError(f"{path}: weights must be floating point, got {', '.join(dtypes)}")
    tensors = {name: t.float() for name, t in tensors.items()}  # float16 and float64 too
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
        raise UsageError(f"{path}: weights hold NaN or infinite values")
    try:
        net.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as exc:
        detail = clipped(" ".join(str(exc).split()), 300)  # torch names every unexpected key
        raise UsageError(f"{path}: weights do not fit the saved architecture: {detail}") from None
    net.eval()
    return net, card


def checkpoint_limit() -> int:
    """The largest checkpoint read: it is held twice, as bytes and as tensors."""
    return memory_bytes() // 2


def _check_card(card: ModelCard) -> None:
    """Every field a model is used through, so a malformed card fails here, as a ValueError or
    TypeError, rather than later inside numpy or torch."""
    from nncli.config.schema import MAX_WIDTH
    from nncli.model.activations import ACTIVATIONS

    sizes = card.sizes
    if not (isinstance(sizes, list) and len(sizes) >= 2):
        raise ValueError(f"sizes must list at least inputs and outputs, got {excerpt(sizes)}")
    if not all(_is_int(n) and 0 < n <= MAX_WIDTH for n in sizes):
        raise ValueError(f"sizes must be integers from 1 to {MAX_WIDTH}, got {excerpt(sizes)}")
    if not isinstance(card.activation, str) or card.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {excerpt(card.activation)}")
    if card.task not in TASKS:
        raise ValueError(f"unknown task {excerpt(card.task)}")
    data = card.config.get("data", {}) if isinstance(card.config, dict) else None
    ignored = data.get("ignore_columns", []) if isinstance(data, dict) else None
    if not (isinstance(ignored, list) and all(isinstance(c, str) for c in ignored)):
        raise ValueError("config must be a mapping whose data.ignore_columns lists names")
    names = card.feature_names
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names) == sizes[0]):  # fmt: skip
        raise ValueError(f"feature_names must list {sizes[0]} distinct names, got {excerpt(names)}")
    if card.encoding is not None and card.encoder.feature_names != names:
        raise ValueError("encoding: its inputs are not feature_names")
    features = data.get("features") if isinstance(data, dict) else None
    if not (features is None or isinstance(features, list)):
        raise ValueError("config: data.features must list names")
    if not isinstance(card.target_name, str):
        raise ValueError(f"target_name must be a string, got {excerpt(card.target_name)}")
    labels = card.classes
    if not TASKS[card.task].classes:
        if sizes[-1] != 1 or labels is not None:
            raise ValueError("a regression model has one output and no classes")
    elif not (isinstance(labels, list) and all(_is_label(c) for c in labels)
              and len({str(c) for c in labels}) == len(labels) == sizes[-1]):  # fmt: skip
        raise ValueError(f"classes must list {sizes[-1]} distinct labels, got {excerpt(labels)}")
    elif card.target_scaling is not None:
        raise ValueError("a classification model has no target scaling")
    scalers = [("feature_scaling", card.feature_scaling, (sizes[0],))]
    if card.target_scaling is not None:
        scalers.append(("target_scaling", card.target_scaling, ()))
    for name, saved, shape in scalers:
        if not isinstance(saved, dict):
            raise ValueError(f"{name} must be a mapping of kind, offset and scale")
        try:
            Scaler.from_dict(saved, shape=shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{name}: {exc}") from None
    if not (card.data_fingerprint is None or isinstance(card.data_fingerprint, str)):
        raise ValueError("data_fingerprint must be a string")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_label(value: object) -> bool:
    """A class label as `nncli train` saves one: a string, an integer or a finite float."""
    return (
        isinstance(value, str)
        or _is_int(value)
        or (isinstance(value, float) and math.isfinite(value))
    )


def read_metadata(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors header (the 8-byte length, then JSON)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size].decode("utf-8"))
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("header metadata is not a mapping")
    return metadata

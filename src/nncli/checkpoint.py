"""The checkpoint format: one safetensors file, so loading one can never execute code.

Tensors are the `state_dict` of a plain `nn.Sequential` (`0.weight`, `0.bias`, `2.weight`, ...).
The safetensors header's string metadata holds `format` ("nncli.checkpoint"), `format_version`
and `nncli`: a JSON object with the resolved config, the task, layer sizes, activation, feature
and target names, class labels, and the feature and target scalers. docs/checkpoint.md has it all.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from nncli.errors import UsageError
from nncli.fileio import atomic_write_bytes
from nncli.model import build_mlp, layer_sizes
from nncli.preprocessing import Scaler

if TYPE_CHECKING:
    from nncli.config import Config
    from nncli.data import PreparedData

FORMAT = "nncli.checkpoint"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelCard:
    """Everything besides the weights that a model needs to be used on new data."""

    config: dict
    task: str
    sizes: list[int]
    activation: str
    feature_names: list[str]
    target_name: str
    classes: list | None
    feature_scaling: dict
    target_scaling: dict | None
    # sha256 of the split rows it trained on; evaluate refuses to rebuild a split that changed.
    data_fingerprint: str | None = None

    @property
    def scaler(self) -> Scaler:
        return Scaler.from_dict(self.feature_scaling)

    @property
    def target_scaler(self) -> Scaler | None:
        return Scaler.from_dict(self.target_scaling) if self.target_scaling else None

    def predict_raw(self, net: nn.Module, x: np.ndarray) -> np.ndarray:
        """Outputs for raw (unscaled) features: class probabilities, or targets in their units."""
        inputs = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32)
        with torch.no_grad():
            outputs = net(inputs)
        if self.task == "classification":
            return torch.softmax(outputs, dim=-1).double().numpy()
        values = outputs.squeeze(-1).double().numpy()
        scaler = self.target_scaler
        return scaler.inverse(values) if scaler else values

    def measure(self, net: nn.Module, x: np.ndarray, y: np.ndarray) -> dict:
        """The task's full metric set for raw features `x` and original-unit targets `y`."""
        from nncli.metrics import classification_metrics, regression_metrics, undefined_metrics

        outputs = self.predict_raw(net, x)
        if not np.all(np.isfinite(outputs)):  # a diverged model: no metric means anything
            return undefined_metrics(self.task)
        if self.task == "classification":
            return classification_metrics(y, outputs.argmax(axis=1), len(self.classes or []))
        return regression_metrics(y, outputs)

    @classmethod
    def describe(cls, config: Config, prepared: PreparedData) -> ModelCard:
        """The card of the model `config` builds for `prepared` data."""
        dataset = prepared.dataset
        return cls(
            config=config.model_dump(mode="json"),
            task=dataset.task,
            sizes=layer_sizes(prepared.n_features, config.model.widths, prepared.n_outputs),
            activation=config.model.activation,
            feature_names=dataset.feature_names,
            target_name=dataset.target_name,
            classes=dataset.classes,
            feature_scaling=prepared.scaler.to_dict(),
            target_scaling=prepared.target_scaler.to_dict() if prepared.target_scaler else None,
            data_fingerprint=prepared.fingerprint(),
        )


def save_checkpoint(path: Path, net: nn.Sequential, card: ModelCard) -> None:
    from safetensors.torch import save

    tensors = {name: t.detach().cpu().contiguous() for name, t in net.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "nncli": json.dumps(asdict(card)),
    }
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_checkpoint(path: Path) -> tuple[nn.Sequential, ModelCard]:
    """Load a checkpoint as a plain `nn.Sequential` plus its card; never unpickles anything."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: checkpoint not found") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read checkpoint: {exc.strerror}") from None
    if not data:
        raise UsageError(f"{path}: checkpoint file is empty")
    try:
        tensors = load(data)
        metadata = read_metadata(data)
    except (SafetensorError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path}: not a readable nncli checkpoint (safetensors could not parse it: {exc});"
            " pickled .pt/.pth files are never loaded"
        ) from None
    if metadata.get("format") != FORMAT:
        raise UsageError(f"{path}: a safetensors file, but not an nncli checkpoint")
    version = metadata.get("format_version", "")
    if not (version.isascii() and version.isdigit()):
        raise UsageError(f"{path}: checkpoint format_version {version!r} is not a number")
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
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: checkpoint metadata is incomplete or invalid: {exc}") from None
    try:
        net.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise UsageError(f"{path}: weights do not fit the saved architecture: {detail}") from None
    net.eval()
    return net, card


def _check_card(card: ModelCard) -> None:
    from nncli.activations import ACTIVATIONS

    sizes = card.sizes
    if not (isinstance(sizes, list) and len(sizes) >= 2):
        raise ValueError(f"sizes must list at least inputs and outputs, got {sizes!r}")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes):
        raise ValueError(f"sizes must be positive integers, got {sizes!r}")
    if card.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {card.activation!r}")
    if card.task not in ("classification", "regression"):
        raise ValueError(f"unknown task {card.task!r}")


def read_metadata(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors header (the 8-byte length, then JSON)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size].decode("utf-8"))
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("header metadata is not a mapping")
    return metadata

"""The checkpoint format: one safetensors file, so loading one can never execute code.

Tensors are the `state_dict` of a plain `nn.Sequential` (`0.weight`, `0.bias`, `2.weight`, ...).
The safetensors header's string metadata holds `format` ("nncli.checkpoint"), `format_version`
and `nncli`: a JSON object with the resolved config, the task, layer sizes, activation, feature
and target names, class labels, and the feature and target scalers. docs/checkpoint.md has it all.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nncli.errors import UsageError, clipped, excerpt
from nncli.fileio import atomic_write_bytes, read_regular_bytes
from nncli.model import build_mlp, memory_bytes
from nncli.preprocessing import Scaler

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
    data = read_regular_bytes(
        path, limit=checkpoint_limit(), what="checkpoint", follow_symlinks=follow_symlinks
    )
    if not data:
        raise UsageError(f"{path}: checkpoint file is empty")
    try:
        tensors = load(data)
        metadata = _read_metadata(data)
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
    from nncli.activations import ACTIVATIONS
    from nncli.config import MAX_WIDTH

    sizes = card.sizes
    if not (isinstance(sizes, list) and len(sizes) >= 2):
        raise ValueError(f"sizes must list at least inputs and outputs, got {excerpt(sizes)}")
    if not all(_is_int(n) and 0 < n <= MAX_WIDTH for n in sizes):
        raise ValueError(f"sizes must be integers from 1 to {MAX_WIDTH}, got {excerpt(sizes)}")
    if not isinstance(card.activation, str) or card.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {excerpt(card.activation)}")
    if card.task not in ("classification", "regression"):
        raise ValueError(f"unknown task {excerpt(card.task)}")
    data = card.config.get("data", {}) if isinstance(card.config, dict) else None
    ignored = data.get("ignore_columns", []) if isinstance(data, dict) else None
    if not (isinstance(ignored, list) and all(isinstance(c, str) for c in ignored)):
        raise ValueError("config must be a mapping whose data.ignore_columns lists names")
    names = card.feature_names
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names) == sizes[0]):  # fmt: skip
        raise ValueError(f"feature_names must list {sizes[0]} distinct names, got {excerpt(names)}")
    if not isinstance(card.target_name, str):
        raise ValueError(f"target_name must be a string, got {excerpt(card.target_name)}")
    labels = card.classes
    if card.task == "regression":
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


def _read_metadata(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors header (the 8-byte length, then JSON)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size].decode("utf-8"))
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("header metadata is not a mapping")
    return metadata


STATE_FORMAT = "nncli.training-state"


def save_training_state(path: Path, state, params: list[torch.Tensor], info: dict) -> None:
    """The resumable `last.safetensors`: parameters, optimizer, RNG and loop state, atomically.

    `state` is an `engine.TrainingState`; `params` the stacked model's parameters; `info` what
    rebuilds the model (activations, seeds, sizes) and anything the command wants back.
    """
    from safetensors.torch import save

    tensors = {f"param.{i}": p.detach().cpu().contiguous() for i, p in enumerate(params)}
    tensors |= {f"best.{i}": p.detach().cpu().contiguous() for i, p in enumerate(state.best_params)}
    tensors |= {f"shuffler.{i}": s for i, s in enumerate(state.shuffler_states)}
    for name in ("order", "outputs", "grad_sums"):
        value = getattr(state, name)
        if value is not None:
            tensors[name] = value.detach().cpu().contiguous()
    optimizer_state = {}
    for index, entry in state.optimizer["state"].items():
        optimizer_state[str(index)] = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
                optimizer_state[str(index)][key] = "tensor"
            else:
                optimizer_state[str(index)][key] = value
    result = state.result
    loop = {
        "epoch": state.epoch,
        "step": state.step,
        "tracker": state.tracker,
        "optimizer_state": optimizer_state,
        "param_groups": state.optimizer["param_groups"],
        "result": {
            "history": result.history,
            "best_epoch": result.best_epoch,
            "kept_epoch": result.kept_epoch,
            "epochs_run": result.epochs_run,
            "diverged": result.diverged,
            "initial_train_loss": result.initial_train_loss,
        },
    }
    metadata = {
        "format": STATE_FORMAT,
        "format_version": str(FORMAT_VERSION),
        "loop": json.dumps(loop),
        "info": json.dumps(info),
    }
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_training_state(path: Path):
    """(engine.TrainingState, stacked parameters, info) from `save_training_state`'s file."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from nncli.engine import FitResult, TrainingState

    path = Path(path)
    try:
        data = read_regular_bytes(
            path, limit=checkpoint_limit(), what="resumable checkpoint", follow_symlinks=False
        )
        tensors = load(data)
        metadata = _read_metadata(data)
        if metadata.get("format") != STATE_FORMAT:
            raise ValueError("not an nncli training state")
        if metadata.get("format_version") != str(FORMAT_VERSION):
            raise ValueError(f"format version {metadata.get('format_version')!r} is not supported")
        loop, info = json.loads(metadata["loop"]), json.loads(metadata["info"])
        optimizer_state = {
            int(index): {
                key: tensors[f"optimizer.{index}.{key}"] if value == "tensor" else value
                for key, value in entry.items()
            }
            for index, entry in loop["optimizer_state"].items()
        }
        count = sum(1 for name in tensors if name.startswith("param."))
        params = [tensors[f"param.{i}"] for i in range(count)]
        saved = loop["result"]
        result = FitResult(
            history=saved["history"],
            best_epoch=saved["best_epoch"],
            kept_epoch=saved["kept_epoch"],
            epochs_run=saved["epochs_run"],
            diverged=[tuple(d) if d else None for d in saved["diverged"]],
            initial_train_loss=saved["initial_train_loss"],
        )
        state = TrainingState(
            epoch=loop["epoch"],
            step=loop["step"],
            order=tensors.get("order"),
            outputs=tensors.get("outputs"),
            shuffler_states=[tensors[f"shuffler.{i}"] for i in range(len(info["seeds"]))],
            optimizer={"state": optimizer_state, "param_groups": loop["param_groups"]},
            tracker=loop["tracker"],
            best_params=[tensors[f"best.{i}"] for i in range(count)],
            grad_sums=tensors.get("grad_sums"),
            result=result,
        )
        _check_resumable(state, params, info)
    except FileNotFoundError:
        raise UsageError(f"{path}: no resumable checkpoint here") from None
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, OverflowError,
            RecursionError) as exc:  # fmt: skip
        raise UsageError(f"{path}: cannot resume from this file: {exc}") from None
    return state, params, info


def _check_resumable(state, params: list[torch.Tensor], info: dict) -> None:
    """What the engine reads of a resumed state, as `save_training_state` writes it for K
    models: a crafted file fails here, as a ValueError, not inside the training loop."""
    k, training = len(info["seeds"]), info["config"]["training"]
    numbers = (int, float)

    def require(ok: object, what: str) -> None:
        if not ok:
            raise ValueError(f"{what} is malformed")

    def k_list(value: object, test) -> bool:
        return isinstance(value, list) and len(value) == k and all(map(test, value))

    require(k_list(info["activations"], lambda a: a in _activation_names()), "info.activations")
    require(_is_int(state.epoch) and 1 <= state.epoch <= training["epochs"], "epoch")
    require(params and all(p.dtype == torch.float32 and len(p) == k for p in params), "param")
    require([p.shape for p in state.best_params] == [p.shape for p in params], "best")
    generator = torch.Generator().get_state()
    require(all(g.dtype == generator.dtype and g.shape == generator.shape
                for g in state.shuffler_states), "shuffler")  # fmt: skip
    require(_is_int(state.step) and state.step >= 0, "step")
    if state.order is None:
        require(state.step == 0 and state.outputs is None, "step")
    else:
        n = state.order.shape[-1]
        batch = min(training["batch_size"], n)
        require(state.order.dtype == torch.int64 and state.order.shape == (k, n)
                and torch.equal(state.order.sort(dim=1).values, torch.arange(n).expand(k, n)),
                "order")  # fmt: skip
        require(state.step < -(-n // batch), "step")
        shape = (k, state.step * batch, params[-1].shape[-1])  # (K, step * B, C)
        outputs = state.outputs
        require(state.step == 0 or (outputs is not None and outputs.shape == shape), "outputs")
    tracker = state.tracker if isinstance(state.tracker, dict) else {}
    require(k_list(tracker.get("active"), lambda a: a in (True, False))
            and k_list(tracker.get("best_loss"), lambda v: isinstance(v, numbers))
            and k_list(tracker.get("best_epoch"), _is_int)
            and k_list(tracker.get("waited"), _is_int), "tracker")  # fmt: skip
    groups = state.optimizer["param_groups"]
    require(isinstance(groups, list) and len(groups) == 1 and isinstance(groups[0], dict)
            and all(isinstance(groups[0].get(h), numbers) and not isinstance(groups[0].get(h), bool)
                    for h in ("lr", "momentum", "dampening", "weight_decay"))
            and groups[0].get("params") == list(range(len(params))), "param_groups")  # fmt: skip
    layers = len(params) // 2
    # One model trains as a plain module, ordered weight, bias, ...; K stacked ones as
    # [weights..., biases...] with a leading K axis (see engine.fit).
    shapes = [p.shape for p in params] if k > 1 else [
        params[i // 2 + (i % 2) * layers].shape[1:] for i in range(len(params))]  # fmt: skip
    for index, entry in state.optimizer["state"].items():
        buffer = entry.get("momentum_buffer") if isinstance(entry, dict) else ""
        require(0 <= index < len(params) and (buffer is None or (
            isinstance(buffer, torch.Tensor) and buffer.shape == shapes[index])),
            "optimizer state")  # fmt: skip
    result = state.result
    require(k_list(result.history, lambda h: isinstance(h, list)
                   and all(isinstance(row, dict) for row in h)), "history")  # fmt: skip
    for name in ("best_epoch", "kept_epoch", "epochs_run"):
        require(k_list(getattr(result, name), _is_int), name)
    require(k_list(result.diverged, lambda d: d is None or (len(d) == 2 and all(map(_is_int, d)))),
            "diverged")  # fmt: skip
    require(k_list(result.initial_train_loss, lambda v: isinstance(v, numbers)), "initial loss")
    grads = state.grad_sums
    require(grads is None or (grads.dtype == torch.float32 and grads.shape == (layers, k)),
            "grad_sums")  # fmt: skip


def _activation_names():
    from nncli.activations import ACTIVATIONS

    return ACTIVATIONS

"""Where a stack trains: the device `training.device` names, its label, and its matmul precision."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from nncli.config.schema import Config
from nncli.errors import UsageError
from nncli.train.parallel import launched


def resolve_device(name: str) -> torch.device:
    """The device `training.device` names, with its index for CUDA: `auto` is the current CUDA
    device where there is one, else the CPU. A CUDA device that is not there is a UsageError."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError(f"training.device: {name} requested but no CUDA device is available")
    count = torch.cuda.device_count()
    ranks = launched()
    if ranks is not None:  # one device per rank of a torchrun launch: its LOCAL_RANK
        if ":" in name:
            raise UsageError(
                f"training.device: {name} names one device, and each process of a torchrun"
                " launch takes its own (cuda:LOCAL_RANK); use cuda or auto"
            )
        if ranks.local_rank >= count:
            raise UsageError(
                f"training.device: LOCAL_RANK {ranks.local_rank} has no CUDA device of its own:"
                f" this machine has {count}; launch at most {count} processes per machine"
            )
        return torch.device("cuda", ranks.local_rank)
    index = int(name.partition(":")[2] or torch.cuda.current_device())
    if index >= count:
        raise UsageError(
            f"training.device: {name} requested but this machine has {count} CUDA device(s),"
            f" cuda:0 to cuda:{count - 1}"
        )
    return torch.device("cuda", index)


@contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """Let CUDA matrix products use tf32 while training with `training.precision: tf32`."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def precision_note(config: Config, device: str) -> str | None:
    """Why `training.precision` does not do what it says on `device`, if it does not."""
    if config.training.precision == "tf32" and not device.startswith("cuda"):
        return "training.precision tf32 applies to CUDA matrix products; on the CPU it is fp32"
    return None


def device_label(devices: str) -> str:
    """Devices as the setup line shows them: a CUDA device with its name, `cuda:0 (NVIDIA H200)`."""
    shown = []
    for device in devices.split(", "):
        name = torch.cuda.get_device_name(device) if device.startswith("cuda") else ""
        shown.append(f"{device} ({name})" if name else device)
    return ", ".join(shown)

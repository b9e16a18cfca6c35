"""What happens inside a trained network: dead units, saturated units, frozen layers."""

from __future__ import annotations

import torch
from torch import nn

# Units of these activations are dead when their input is <= 0 for every sample: for ReLU the
# gradient is then exactly zero, and for its smooth cousins almost zero.
RELU_FAMILY = frozenset({"relu", "leaky_relu", "elu", "gelu", "silu"})

# A unit is saturated where the activation's derivative is below this fraction of its maximum.
SATURATION_THRESHOLD = 0.05
_DERIVATIVE_FROM_OUTPUT = {
    "sigmoid": lambda a: a * (1 - a) / 0.25,  # sigmoid' = a(1 - a), at most 0.25
    "tanh": lambda a: 1 - a * a,  # tanh' = 1 - a^2, at most 1
}
SATURATING = frozenset(_DERIVATIVE_FROM_OUTPUT)


@torch.no_grad()
def hidden_preactivations(net: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """Each hidden layer's input to its activation, (N, H) per layer, input side first."""
    found = []
    h = x
    for module in net:
        h = module(h)
        if isinstance(module, nn.Linear) and module is not net[-1]:
            found.append(h)
    return found


def dead_fraction(net: nn.Sequential, activation: str, x: torch.Tensor) -> float | None:
    """Fraction of hidden units whose input is <= 0 on every sample; None if not ReLU-like."""
    layers = hidden_preactivations(net, x)
    if activation not in RELU_FAMILY or not layers:
        return None
    dead = sum(int((z <= 0).all(dim=0).sum()) for z in layers)
    return dead / sum(z.shape[1] for z in layers)


def saturated_fraction(net: nn.Sequential, activation: str, x: torch.Tensor) -> float | None:
    """Fraction of (unit, sample) pairs where sigmoid/tanh is flat; None for other functions."""
    layers = hidden_preactivations(net, x)
    if activation not in SATURATING or not layers:
        return None
    relative = _DERIVATIVE_FROM_OUTPUT[activation]
    fn = torch.sigmoid if activation == "sigmoid" else torch.tanh
    flat = sum(int((relative(fn(z)) < SATURATION_THRESHOLD).sum()) for z in layers)
    return flat / sum(z.numel() for z in layers)


def input_blind_loss(x: torch.Tensor, y: torch.Tensor, task: str) -> float:
    """The loss of always predicting the training class frequencies (or the mean target)."""
    if task == "classification":
        frequencies = torch.bincount(y).double() / len(y)
        present = frequencies[frequencies > 0]
        return float(-(present * present.log()).sum())  # cross-entropy of the priors
    return float(((y - y.mean()) ** 2).mean())

"""What happens inside a trained network: dead units and saturated units."""

from __future__ import annotations

import torch
from torch import nn

from nncli.model.activations import ACTIVATIONS

# A unit is saturated where the activation's derivative is below this fraction of its maximum.
SATURATION_THRESHOLD = 0.05


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
    """Fraction of hidden units whose input is <= 0 on every sample; None if not ReLU-like.

    For ReLU such a unit's gradient is exactly zero, and for its smooth cousins almost zero.
    """
    layers = hidden_preactivations(net, x)
    if ACTIVATIONS[activation].family != "relu-like" or not layers:
        return None
    dead = sum(int((z <= 0).all(dim=0).sum()) for z in layers)
    return dead / sum(z.shape[1] for z in layers)


def saturated_fraction(net: nn.Sequential, activation: str, x: torch.Tensor) -> float | None:
    """Fraction of (unit, sample) pairs where a saturating activation is flat; else None."""
    spec = ACTIVATIONS[activation]
    layers = hidden_preactivations(net, x)
    if spec.family != "saturating" or not layers:
        return None
    limit = SATURATION_THRESHOLD * spec.max_derivative
    flat = sum(int((spec.derivative(z) < limit).sum()) for z in layers)
    return flat / sum(z.numel() for z in layers)

"""The one registry of activation functions; everything else looks names up here.

Each entry holds every fact nncli knows about one activation, so adding one is one entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

Family = Literal["relu-like", "saturating"]


class _Step(torch.autograd.Function):
    """Heaviside step whose derivative is exactly zero, as it is almost everywhere.

    No surrogate gradient: back-propagation through a step passes nothing to the layers below,
    which is why a perceptron cannot be trained by gradient descent through hidden step units.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(grad_output)


def step(x: torch.Tensor) -> torch.Tensor:
    return _Step.apply(x)


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


# The derivatives are those of the functions as PyTorch computes them, kinks included, so they
# equal autograd's gradient everywhere (tests/test_activations.py checks every entry).


def _sigmoid_derivative(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s)


def _tanh_derivative(x: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(x)
    return 1 - t * t


def _leaky_relu_derivative(x: torch.Tensor) -> torch.Tensor:
    return torch.full_like(x, 0.01).masked_fill(x > 0, 1.0)  # F.leaky_relu's default slope


def _elu_derivative(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(x.clamp(max=0))  # alpha = 1: e^x below 0, 1 from 0 on


def _gelu_derivative(x: torch.Tensor) -> torch.Tensor:
    """d/dx x Φ(x) = Φ(x) + x φ(x), for the exact (erf) GELU."""
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


def _silu_derivative(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))


def _softplus_derivative(x: torch.Tensor) -> torch.Tensor:
    # F.softplus returns x itself above its threshold of 20, so its slope there is exactly 1.
    return torch.sigmoid(x).masked_fill(x > 20, 1.0)


@dataclass(frozen=True)
class ActivationSpec:
    fn: Callable[[torch.Tensor], torch.Tensor]
    # f'(x) from the pre-activation x, elementwise, in x's dtype.
    derivative: Callable[[torch.Tensor], torch.Tensor]
    # "relu-like": a unit whose input is <= 0 on every sample is dead (diagnostics.dead_fraction).
    # "saturating": a unit is flat where f' is small relative to `max_derivative`.
    family: Family | None = None
    max_derivative: float | None = None  # the largest f'; marked on the activation plot
    note: str = ""  # printed on the activation plot: what the derivative does to training


ACTIVATIONS: dict[str, ActivationSpec] = {
    "identity": ActivationSpec(identity, torch.ones_like),
    "step": ActivationSpec(
        step,
        torch.zeros_like,  # the true derivative wherever it is defined, and what backward passes
        note="f' = 0 wherever defined:\nno gradient flows back",
    ),
    "sigmoid": ActivationSpec(
        torch.sigmoid,
        _sigmoid_derivative,
        "saturating",
        max_derivative=0.25,
        note="f' <= 0.25 (dotted): each sigmoid layer\nshrinks the gradient 4x or more",
    ),
    "tanh": ActivationSpec(torch.tanh, _tanh_derivative, "saturating", max_derivative=1.0),
    "relu": ActivationSpec(torch.relu, lambda x: (x > 0).to(x.dtype), "relu-like"),
    "leaky_relu": ActivationSpec(F.leaky_relu, _leaky_relu_derivative, "relu-like"),
    "elu": ActivationSpec(F.elu, _elu_derivative, "relu-like"),
    "gelu": ActivationSpec(F.gelu, _gelu_derivative, "relu-like"),
    "silu": ActivationSpec(F.silu, _silu_derivative, "relu-like"),
    "softplus": ActivationSpec(F.softplus, _softplus_derivative),
}


class Activation(torch.nn.Module):
    """An activation from the registry as a module, so exported models print their names."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = ACTIVATIONS[name].fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name

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


_aten = torch.ops.aten


def _identity_out(z: torch.Tensor, out: torch.Tensor) -> None:
    if out is not z:
        out.copy_(z)


def _identity_backward(grad: torch.Tensor, saved: torch.Tensor, out: torch.Tensor) -> None:
    if out is not grad:
        out.copy_(grad)


@dataclass(frozen=True)
class ActivationSpec:
    fn: Callable[[torch.Tensor], torch.Tensor]
    # f'(x) from the pre-activation x, elementwise, in x's dtype: the math, for plots and tests.
    derivative: Callable[[torch.Tensor], torch.Tensor]
    # The explicit engine's kernels, the very ones autograd runs, so its gradients equal
    # autograd's: `forward_out(z, out)` writes f(z) into `out` (which may be `z` itself);
    # `backward_out(grad, saved, out)` writes grad * f'(z) into `out` (which may be `grad`) from
    # `saved`, which is f(z) when `saves == "output"` (then f can run in place) and z otherwise.
    # An activation without them trains through autograd.
    forward_out: Callable[[torch.Tensor, torch.Tensor], object] | None = None
    backward_out: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], object] | None = None
    saves: Literal["output", "input"] = "output"
    # "relu-like": a unit whose input is <= 0 on every sample is dead (diagnostics.dead_fraction).
    # "saturating": a unit is flat where f' is small relative to `max_derivative`.
    family: Family | None = None
    max_derivative: float | None = None  # the largest f'; marked on the activation plot
    note: str = ""  # printed on the activation plot: what the derivative does to training
    # f' = 0 wherever defined: no gradient reaches the layers below one, only the output layer
    # of a network of them learns (`nncli train` says so).
    blocks_gradient: bool = False


ACTIVATIONS: dict[str, ActivationSpec] = {
    "identity": ActivationSpec(
        identity, torch.ones_like, _identity_out, _identity_backward, saves="output"
    ),
    "step": ActivationSpec(
        step,
        torch.zeros_like,  # the true derivative wherever it is defined, and what backward passes
        lambda z, out: out.copy_(z > 0),
        lambda grad, saved, out: out.zero_(),
        note="f' = 0 wherever defined:\nno gradient flows back",
        blocks_gradient=True,
    ),
    "sigmoid": ActivationSpec(
        torch.sigmoid,
        _sigmoid_derivative,
        lambda z, out: torch.sigmoid(z, out=out),
        lambda grad, y, out: _aten.sigmoid_backward.grad_input(grad, y, grad_input=out),
        family="saturating",
        max_derivative=0.25,
        note="f' <= 0.25 (dotted): each sigmoid layer\nshrinks the gradient 4x or more",
    ),
    "tanh": ActivationSpec(
        torch.tanh,
        _tanh_derivative,
        lambda z, out: torch.tanh(z, out=out),
        lambda grad, y, out: _aten.tanh_backward.grad_input(grad, y, grad_input=out),
        family="saturating",
        max_derivative=1.0,
    ),
    "relu": ActivationSpec(
        torch.relu,
        lambda x: (x > 0).to(x.dtype),
        lambda z, out: torch.clamp_min(z, 0, out=out),  # what torch.relu computes
        lambda grad, y, out: _aten.threshold_backward.grad_input(grad, y, 0, grad_input=out),
        family="relu-like",
    ),
    "leaky_relu": ActivationSpec(
        F.leaky_relu,
        _leaky_relu_derivative,
        lambda z, out: _aten.leaky_relu.out(z, 0.01, out=out),
        lambda grad, y, out: _aten.leaky_relu_backward.grad_input(
            grad, y, 0.01, True, grad_input=out
        ),
        family="relu-like",
    ),
    "elu": ActivationSpec(
        F.elu,
        _elu_derivative,
        lambda z, out: _aten.elu.out(z, out=out),
        lambda grad, z, out: _aten.elu_backward.grad_input(
            grad, 1.0, 1, 1, False, z, grad_input=out
        ),
        saves="input",  # autograd's ELU backward reads the input; from its output it rounds apart
        family="relu-like",
    ),
    "gelu": ActivationSpec(
        F.gelu,
        _gelu_derivative,
        lambda z, out: _aten.gelu.out(z, out=out),
        lambda grad, z, out: _aten.gelu_backward.grad_input(grad, z, grad_input=out),
        saves="input",
        family="relu-like",
    ),
    "silu": ActivationSpec(
        F.silu,
        _silu_derivative,
        lambda z, out: _aten.silu.out(z, out=out),
        lambda grad, z, out: _aten.silu_backward.grad_input(grad, z, grad_input=out),
        saves="input",
        family="relu-like",
    ),
    "softplus": ActivationSpec(
        F.softplus,
        _softplus_derivative,
        lambda z, out: _aten.softplus.out(z, 1, 20, out=out),
        lambda grad, z, out: _aten.softplus_backward.grad_input(grad, z, 1, 20, grad_input=out),
        saves="input",
    ),
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

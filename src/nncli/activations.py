"""The one registry of activation functions; everything else looks names up here."""

from collections.abc import Callable

import torch
import torch.nn.functional as F


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


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": identity,
    "step": step,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "softplus": F.softplus,
}


class Activation(torch.nn.Module):
    """An activation from the registry as a module, so exported models print their names."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = ACTIVATIONS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name

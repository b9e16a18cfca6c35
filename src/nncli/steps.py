"""Which step trains a stack: the explicit engine (backprop.py), or autograd where it does not
reach (bf16 autocast, an activation without explicit kernels). Both take the same batches and
return the outputs their loss was taken on."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Literal

import torch

from nncli.backprop import ExplicitStep, covers
from nncli.losses import stacked_loss
from nncli.model import StackedMLP
from nncli.sgd import StackedSGD

Engine = Literal["auto", "explicit", "autograd"]
Precision = Literal["fp32", "tf32", "bf16"]


class AutogradStep:
    """One SGD step of every model of a stack through autograd: the reference the explicit
    engine is tested against, and the path for what it does not cover (bf16 autocast, an
    activation without explicit kernels)."""

    def __init__(
        self,
        model: StackedMLP,
        optimizer: StackedSGD,
        task: str,
        class_weight: torch.Tensor | None = None,
        autocast_dtype: torch.dtype | None = None,
    ):
        self.model = model
        self.optimizer = optimizer
        self.task = task
        self.class_weight = class_weight
        self.autocast_dtype = autocast_dtype
        self.one_model = model.n_models == 1

    def _autocast(self, x: torch.Tensor):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(x.device.type, dtype=self.autocast_dtype)

    @torch.no_grad()
    def targets(self, y: torch.Tensor) -> torch.Tensor:
        return y  # class indices, as cross-entropy takes them

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F) -> (K, N, C), in float32."""
        with self._autocast(x):
            return self.model(x.expand(self.model.n_models, *x.shape)).float()

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, grad_norms: torch.Tensor | None = None
    ) -> torch.Tensor:
        """As `ExplicitStep.__call__`."""
        if self.one_model:
            x, y = x.unsqueeze(0), y.unsqueeze(0)
        with self._autocast(x):
            outputs = self.model(x)  # (K, B, C)
            loss = stacked_loss(outputs.float(), y, self.task, self.class_weight)
        self.optimizer.zero_grad()
        loss.backward()
        if grad_norms is not None:
            with torch.no_grad():
                grad_norms += torch.stack(
                    [w.grad.flatten(1).norm(dim=1) for w in self.model.weights]
                )
        self.optimizer.step()
        return outputs.detach().float()


def choose_step(
    model: StackedMLP,
    optimizer: StackedSGD,
    task: str,
    class_weight: torch.Tensor | None,
    engine: Engine = "auto",
    precision: Precision = "fp32",
) -> ExplicitStep | AutogradStep:
    """The explicit engine (backprop.py) wherever it covers the models; autograd for bf16 (its
    autocast recipe keeps float32 master weights) and activations without explicit kernels."""
    if engine == "auto":
        engine = "explicit" if precision != "bf16" and covers(model) else "autograd"
    if engine == "explicit":
        if precision == "bf16" or not covers(model):
            raise ValueError("the explicit engine covers float32 models of registered activations")
        return ExplicitStep(model, optimizer, task, class_weight)
    autocast = torch.bfloat16 if precision == "bf16" else None
    return AutogradStep(model, optimizer, task, class_weight, autocast)

"""Which step trains a stack: the explicit engine (backprop.py), or autograd where it does not
reach (bf16 autocast, an activation without explicit kernels). Both are a `Step`: they take the
same batches and return the outputs their loss was taken on."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Protocol, runtime_checkable

import torch

from nncli.model.mlp import StackedMLP
from nncli.train.backprop import ExplicitStep, covers
from nncli.train.losses import LOSSES
from nncli.train.parallel import GradientSync
from nncli.train.sgd import StackedSGD
from nncli.train.state import Engine, Precision


@runtime_checkable
class Step(Protocol):
    """One SGD step of every model of a stack, and prediction: what `engine.fit` trains with."""

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """An epoch's targets (K, N) (one model: (N,)) as the step takes them."""
        ...

    def denominator(self, y: torch.Tensor) -> float | torch.Tensor:
        """The loss's denominator over a whole batch of `targets` y."""
        ...

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F) -> (K, N, C), every model on the same rows."""
        ...

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        grad_norms: torch.Tensor | None = None,
        denominator: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Train on one batch; return the (K, B, C) outputs its loss was taken on."""
        ...


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
        sync: GradientSync | None = None,
    ):
        self.model = model
        self.optimizer = optimizer
        self.loss = LOSSES[task]
        self.class_weight = class_weight
        self.autocast_dtype = autocast_dtype
        self.one_model = model.n_models == 1
        self.sync = sync  # data-parallel: gradients summed over the ranks before the update

    def _autocast(self, x: torch.Tensor):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(x.device.type, dtype=self.autocast_dtype)

    @torch.no_grad()
    def targets(self, y: torch.Tensor) -> torch.Tensor:
        return y  # class indices, as cross-entropy takes them

    def denominator(self, y: torch.Tensor) -> float | torch.Tensor:
        """As `ExplicitStep.denominator`, for class-index targets."""
        return self.loss.denominator(y, self.class_weight)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F) -> (K, N, C), in float32."""
        with self._autocast(x):
            return self.model(x.expand(self.model.n_models, *x.shape)).float()

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        grad_norms: torch.Tensor | None = None,
        denominator: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """As `ExplicitStep.__call__`."""
        if self.one_model:
            x, y = x.unsqueeze(0), y.unsqueeze(0)
        with self._autocast(x):
            outputs = self.model(x)  # (K, B, C)
            loss = self.loss.stacked(outputs.float(), y, self.class_weight, denominator)
        self.optimizer.zero_grad()
        loss.backward()
        grads = [p.grad for p in self.model.parameters()]
        if self.sync is not None:
            for summed, grad in zip(self.sync.grads, grads, strict=True):
                summed.copy_(grad)
            self.sync()
            grads = self.sync.grads
        if grad_norms is not None:
            with torch.no_grad():
                weights = grads[: len(grads) // 2]  # then the biases
                grad_norms += torch.stack([g.flatten(1).norm(dim=1) for g in weights])
        for i, grad in enumerate(grads):
            self.optimizer.update(i, grad)
        return outputs.detach().float()


def choose_step(
    model: StackedMLP,
    optimizer: StackedSGD,
    task: str,
    class_weight: torch.Tensor | None,
    engine: Engine = "auto",
    precision: Precision = "fp32",
    sync: GradientSync | None = None,
) -> Step:
    """The explicit engine (backprop.py) wherever it covers the models; autograd for bf16 (its
    autocast recipe keeps float32 master weights) and activations without explicit kernels."""
    if engine == "auto":
        engine = "explicit" if precision != "bf16" and covers(model) else "autograd"
    if engine == "explicit":
        if precision == "bf16" or not covers(model):
            raise ValueError("the explicit engine covers float32 models of registered activations")
        return ExplicitStep(model, optimizer, task, class_weight, sync)
    autocast = torch.bfloat16 if precision == "bf16" else None
    return AutogradStep(model, optimizer, task, class_weight, autocast, sync)

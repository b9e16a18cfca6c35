"""Stochastic gradient descent for K stacked models, each with its own hyperparameters.

The update is `torch.optim.SGD`'s (weight decay, momentum without dampening, Nesterov), written
out: when every model shares its settings the operations are SGD's own, so a single model ends bit
for bit where `torch.optim.SGD` would; otherwise each setting is a (K, 1, ...) tensor broadcast
over the stacked parameters. It also spares each step the optimizer's bookkeeping, and a start
the import of `torch._dynamo` that `torch.optim` pulls in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SGDSettings:
    """One model's update rule."""

    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False


class StackedSGD:
    """SGD over parameters whose leading axis is the model axis (K), or over one model's.

    With `stacked=False` the parameters belong to one model and `settings` has one entry.
    """

    def __init__(self, params: list[torch.Tensor], settings: list[SGDSettings], *, stacked: bool):
        self.params = params
        self.settings = settings
        self.shared = all(s == settings[0] for s in settings)
        if not self.shared and not stacked:
            raise ValueError("one model's parameters take one SGDSettings")
        self.uses_momentum = any(s.momentum != 0 for s in settings)
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(params)
        if not self.shared:
            device = params[0].device
            self._per_model = {  # name -> (K,) tensor
                name: torch.tensor([float(getattr(s, name)) for s in settings], device=device)
                for name in ("lr", "momentum", "weight_decay", "nesterov")
            }

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self.shared:
            self._shared_step(self.settings[0])
        else:
            self._per_model_step()

    def _shared_step(self, s: SGDSettings) -> None:
        for i, param in enumerate(self.params):
            grad = param.grad
            if s.weight_decay != 0:
                grad = grad.add(param, alpha=s.weight_decay)
            if s.momentum != 0:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = self.momentum_buffers[i] = grad.detach().clone()
                else:
                    buf.mul_(s.momentum).add_(grad)
                grad = grad.add(buf, alpha=s.momentum) if s.nesterov else buf
            param.add_(grad, alpha=-s.lr)

    def _per_model_step(self) -> None:
        for i, param in enumerate(self.params):
            shape = (-1,) + (1,) * (param.dim() - 1)  # broadcast (K,) over (K, ...)
            lr, momentum, decay, nesterov = (
                self._per_model[name].view(shape)
                for name in ("lr", "momentum", "weight_decay", "nesterov")
            )
            grad = param.grad
            if any(s.weight_decay != 0 for s in self.settings):
                grad = grad + param * decay
            if self.uses_momentum:
                buf = self.momentum_buffers[i]
                if buf is None:  # as SGD's first step: the buffer starts as the gradient
                    buf = self.momentum_buffers[i] = grad.detach().clone()
                else:
                    buf.mul_(momentum).add_(grad)  # momentum 0 leaves exactly the gradient
                if any(s.nesterov for s in self.settings):
                    grad = torch.where(nesterov.bool(), grad + buf * momentum, buf)
                else:
                    grad = buf
            param.sub_(grad * lr)

    def state_dict(self) -> dict:
        return {"momentum_buffers": list(self.momentum_buffers)}

    def load_state_dict(self, state: dict) -> None:
        buffers = state["momentum_buffers"]
        if len(buffers) != len(self.params):
            raise ValueError("saved momentum buffers do not match the parameters")
        self.momentum_buffers = [
            None if b is None else b.to(p.device) for b, p in zip(buffers, self.params, strict=True)
        ]

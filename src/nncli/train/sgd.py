"""Stochastic gradient descent for K stacked models, each with its own hyperparameters.

The update is `torch.optim.SGD`'s (weight decay, momentum without dampening, Nesterov), written
out: when every model shares its settings the operations are SGD's own, so given the same
gradients a model ends bit for bit where `torch.optim.SGD` would; otherwise each setting is a
(K, 1, ...) tensor broadcast over the stacked parameters. Parameters are stacked: their leading
axis is the model axis K (K = 1 for one model).

The explicit engine hands a weight's gradient over as the matrix product it is (`d^T h`), so
plain SGD, weight decay without momentum (`(1 - lr wd) W`, then the plain step) and shared
momentum fold the product into the update (`W.addmm_(d^T, h, alpha=-lr)`) instead of
materializing the gradient first; the result equals the two-step update to float32 rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_SETTINGS = ("lr", "momentum", "weight_decay", "nesterov")


@dataclass(frozen=True)
class SGDSettings:
    """One model's update rule."""

    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False


@dataclass(frozen=True)
class UpdateRule:
    """Which arithmetic `StackedSGD` runs, chosen from the settings of every model of a stack.

    A part of a stack (a sweep split across processes) takes its whole stack's rule, so each of
    its models computes the very operations, and bits, it would in the stack.
    """

    shared: bool  # every model has the same settings: SGD's own operations
    momentum: bool
    decay: bool
    nesterov: bool

    @classmethod
    def of(cls, settings: list[SGDSettings]) -> UpdateRule:
        return cls(
            shared=all(s == settings[0] for s in settings),
            momentum=any(s.momentum != 0 for s in settings),
            decay=any(s.weight_decay != 0 for s in settings),
            nesterov=any(s.nesterov for s in settings),
        )


class StackedSGD:
    """SGD over stacked parameters, one `SGDSettings` per model; `rule` as `UpdateRule.of`
    chooses it from them unless given (a part of a stack takes the stack's)."""

    def __init__(
        self,
        params: list[torch.Tensor],
        settings: list[SGDSettings],
        rule: UpdateRule | None = None,
    ):
        self._sources = params  # where autograd leaves `.grad`
        # Detached views: updating them in place needs no `torch.no_grad()` around every step.
        self.params = [p.detach() for p in params]
        self.settings = settings
        rule = UpdateRule.of(settings) if rule is None else rule
        self.shared = rule.shared
        self.uses_momentum = rule.momentum
        self.uses_decay = rule.decay
        self.uses_nesterov = rule.nesterov
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(params)
        # What `update_layer` writes: for one model, 2-D views of model 0 (made once: a view a
        # step costs as much as a small kernel), else the stacked tensors themselves.
        self._one_model = len(settings) == 1
        self._targets = [p[0] for p in self.params] if self._one_model else self.params
        self._buffer_targets: list[torch.Tensor | None] = [None] * len(params)
        device = params[0].device
        # name -> (K,) tensor, for models with settings of their own
        self._per_model = {
            name: torch.tensor([float(getattr(s, name)) for s in settings], device=device)
            for name in _SETTINGS
        }
        # Per model, for `update_layer`: each lr scales d, and with decay but no momentum,
        # W - lr (g + wd W) = (1 - lr wd) W - lr g (a factor of exactly 1 without decay).
        self._lr_scale = self._per_model["lr"]
        self._shrink = 1 - self._per_model["lr"] * self._per_model["weight_decay"]
        # How `update_layer` updates: plain SGD, decay without momentum and shared momentum fold
        # the gradient's product into the update; anything else materializes the gradient first.
        if self.uses_nesterov or (self.uses_momentum and (self.uses_decay or not self.shared)):
            self._layer_rule = "general"
        elif self.uses_momentum:
            self._layer_rule = "momentum"
        elif self.shared:
            self._layer_rule = "decay" if self.uses_decay else "plain"
        else:
            self._layer_rule = "decay per model" if self.uses_decay else "plain per model"

    def zero_grad(self) -> None:
        for p in self._sources:
            p.grad = None

    def step(self) -> None:
        """Update every parameter with its autograd gradient (`.grad`)."""
        for i, param in enumerate(self._sources):
            self.update(i, param.grad)

    def update(self, i: int, grad: torch.Tensor) -> None:
        """Update parameter i with its gradient `grad`, shaped like it."""
        if self.shared:
            self._shared_update(i, grad, self.settings[0])
        else:
            self._per_model_update(i, grad)

    def update_layer(
        self, weight: int, bias: int, d: torch.Tensor, h: torch.Tensor, *, one_model: bool
    ) -> None:
        """Update a linear layer's parameters (indices `weight`, `bias`) from the gradient at its
        output `d` (K, B, out) and its input `h` (K, B, in): the weight's gradient is d^T h, the
        bias's d summed over the batch. `d` may be scaled in place. With `one_model`, d and h
        are one model's (B, out) and (B, in) and K = 1."""
        rule = self._layer_rule
        if rule == "general":
            self.update(weight, _product(d, h, one_model))
            self.update(bias, _batch_sum(d, one_model))
            return
        w, b = self._targets[weight], self._targets[bias]
        lr, shrink = self.settings[0].lr, 1.0
        if rule.endswith("per model"):  # (K, 1, 1) over d and W, (K, 1) over b; K = 1 too
            matrix, vector = ((1, 1), (1,)) if one_model else ((-1, 1, 1), (-1, 1))
            d.mul_(self._lr_scale.view(matrix))  # each model's gradient times its own lr
            lr = 1.0
            if rule == "decay per model":
                w.mul_(self._shrink.view(matrix))
                b.mul_(self._shrink.view(vector))
        elif rule == "decay":  # one factor: in the product's own kernel
            shrink = 1.0 - lr * self.settings[0].weight_decay
        if rule != "momentum":
            _add_product(w, d, h, one_model, alpha=-lr, beta=shrink)
            if shrink != 1.0:
                b.mul_(shrink)
            b.add_(d.sum(-2), alpha=-lr)
            return
        momentum, buffers = self.settings[0].momentum, self._buffer_targets
        if buffers[weight] is None:  # as SGD's first step: the buffer starts as the gradient
            self._set_buffer(weight, _product(d, h, one_model))
            self._set_buffer(bias, _batch_sum(d, one_model))
        else:
            _add_product(buffers[weight], d, h, one_model, beta=momentum)
            buffers[bias].mul_(momentum).add_(d.sum(-2))
        w.add_(buffers[weight], alpha=-lr)
        b.add_(buffers[bias], alpha=-lr)

    def _set_buffer(self, i: int, buffer: torch.Tensor | None) -> None:
        self.momentum_buffers[i] = buffer
        self._buffer_targets[i] = buffer if buffer is None or not self._one_model else buffer[0]

    def _shared_update(self, i: int, grad: torch.Tensor, s: SGDSettings) -> None:
        param = self.params[i]
        if s.weight_decay != 0:
            grad = grad.add(param, alpha=s.weight_decay)
        if s.momentum != 0:
            buf = self.momentum_buffers[i]
            if buf is None:
                buf = grad.detach().clone()
                self._set_buffer(i, buf)
            else:
                buf.mul_(s.momentum).add_(grad)
            grad = grad.add(buf, alpha=s.momentum) if s.nesterov else buf
        param.add_(grad, alpha=-s.lr)

    def _per_model_update(self, i: int, grad: torch.Tensor) -> None:
        param = self.params[i]
        shape = (-1,) + (1,) * (param.dim() - 1)  # broadcast (K,) over (K, ...)
        lr, momentum, decay, nesterov = (self._per_model[name].view(shape) for name in _SETTINGS)
        if self.uses_decay:
            grad = grad + param * decay
        if self.uses_momentum:
            buf = self.momentum_buffers[i]
            if buf is None:  # as SGD's first step: the buffer starts as the gradient
                buf = grad.detach().clone()
                self._set_buffer(i, buf)
            else:
                buf.mul_(momentum).add_(grad)  # momentum 0 leaves exactly the gradient
            if self.uses_nesterov:
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
        for b, p in zip(buffers, self.params, strict=True):
            if b is not None and b.shape != p.shape:
                raise ValueError("saved momentum buffers do not match the parameters")
        for i, (b, p) in enumerate(zip(buffers, self.params, strict=True)):
            self._set_buffer(i, None if b is None else b.to(p.device))


# One model's tensors are (B, n) with parameters (1, out, in): 2-D kernels on views of model 0,
# which cost less than their batched forms.


def _product(d: torch.Tensor, h: torch.Tensor, one_model: bool) -> torch.Tensor:
    """d^T h: (K, out, in), the weight gradient."""
    return d.t().mm(h).unsqueeze(0) if one_model else torch.bmm(d.transpose(1, 2), h)


def _batch_sum(d: torch.Tensor, one_model: bool) -> torch.Tensor:
    """(K, out): the bias gradient."""
    return d.sum(0).unsqueeze(0) if one_model else d.sum(1)


def _add_product(
    target: torch.Tensor, d: torch.Tensor, h: torch.Tensor, one_model: bool, *, alpha=1.0, beta=1.0
) -> None:
    """target = beta * target + alpha * d^T h, in place, in one kernel (target 2-D for one
    model)."""
    if one_model:
        target.addmm_(d.t(), h, beta=beta, alpha=alpha)
    else:
        target.baddbmm_(d.transpose(1, 2), h, beta=beta, alpha=alpha)

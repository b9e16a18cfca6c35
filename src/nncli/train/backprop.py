"""Feed-forward and back-propagation, written out, for K stacked MLPs (K = 1 for `nncli train`).

Forward, layer by layer: z = h W^T + b, then h' = f(z). The pass keeps what the backward pass
needs: each layer's input h (its weight gradient is built from it) and, for each activation,
f(z) or z (the activation registry says which, and supplies f' as the kernel autograd runs).

Backward, from the output down, with d = dL/dz (the loss gradient at the output to start):
    the gradient below, d W, is taken while W still holds this step's weights;
    W's gradient is d^T h and b's is d summed over the batch, and SGD updates both (sgd.py);
    d for the layer below is (d W) * f'(z_below).
No autograd graph is built (every tensor here is detached from the parameters) and no gradient
is kept: each weight is updated as soon as its
gradient exists. One model runs 2-D kernels on views of the stacked parameters; K models run
batched ones. Models with different activations share the stack: each activation runs on its
contiguous slice of the model axis, in place, with no split or concatenation.
"""

from __future__ import annotations

import torch

from nncli.model.activations import ACTIVATIONS, ActivationSpec
from nncli.model.mlp import StackedMLP
from nncli.train.losses import LOSSES
from nncli.train.parallel import GradientSync
from nncli.train.sgd import StackedSGD


def covers(model: StackedMLP) -> bool:
    """Whether every activation of `model` has the kernels the explicit engine runs."""
    return all(
        ACTIVATIONS[name].forward_out is not None and ACTIVATIONS[name].backward_out is not None
        for name in model.activations
    )


class ExplicitStep:
    """One SGD step of every model of a stack, and prediction, without autograd."""

    def __init__(
        self,
        model: StackedMLP,
        optimizer: StackedSGD,
        task: str,
        class_weight: torch.Tensor | None = None,
        sync: GradientSync | None = None,
    ):
        self.one_model = model.n_models == 1
        # One model's layers as 2-D views; K models' as the stacked (K, out, in) tensors. The
        # forward pass multiplies by W^T: transposed views, made once (W changes in place).
        self.weights = [w.detach()[0] if self.one_model else w.detach() for w in model.weights]
        self.transposed = [w.transpose(-1, -2) for w in self.weights]
        self.biases = [
            b.detach()[0] if self.one_model else b.detach().unsqueeze(1) for b in model.biases
        ]
        self.n_layers = len(self.weights)
        self._multiply_add = torch.addmm if self.one_model else torch.baddbmm
        # (start, stop, spec) of each run of equal activations along K; one run covers K = 1.
        self.runs: list[tuple[int, int, ActivationSpec]] = [
            (start, stop, ACTIVATIONS[name]) for start, stop, name in model.activation_runs
        ]
        self.whole = len(self.runs) == 1
        self.in_place = all(spec.saves == "output" for _, _, spec in self.runs)
        self.optimizer = optimizer
        self.loss = LOSSES[task]
        self.class_weight = class_weight
        self.n_outputs = model.sizes[-1]
        # Data-parallel: gradients go to `sync` to be summed over the ranks, then update.
        self.sync = sync

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """Targets as a step takes them: classes one-hot (..., C), made once an epoch rather
        than every step; regression targets as they are."""
        return self.loss.step_targets(y, self.n_outputs, self.weights[0].dtype)

    def denominator(self, y: torch.Tensor) -> float | torch.Tensor:
        """The loss's denominator over a whole batch of `targets` y: its rows, or with class
        weights each model's weight sum ((K,), or () for one model)."""
        return self.loss.step_denominator(y, self.class_weight)

    def _linear(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        """h W^T + b: (B, out) for one model, (K, B, out) for a stack."""
        return self._multiply_add(self.biases[layer], h, self.transposed[layer])

    def _activate(self, z: torch.Tensor) -> torch.Tensor:
        """f(z) per model: in place when every activation can run from its output."""
        out = z if self.in_place else torch.empty_like(z)
        if self.whole:
            self.runs[0][2].forward_out(z, out)
        else:
            for start, stop, spec in self.runs:
                spec.forward_out(z[start:stop], out[start:stop])
        return out

    def _activation_backward(self, d: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> None:
        """d *= f'(z), in place, per model."""
        if self.whole:
            spec = self.runs[0][2]
            spec.backward_out(d, y if spec.saves == "output" else z, d)
            return
        for start, stop, spec in self.runs:
            saved = y if spec.saves == "output" else z
            spec.backward_out(d[start:stop], saved[start:stop], d[start:stop])

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F) -> (K, N, C), every model on the same rows."""
        h = x if self.one_model else x.expand(len(self.weights[0]), *x.shape)  # (K, N, F)
        for layer in range(self.n_layers):
            h = self._linear(h, layer)
            if layer < self.n_layers - 1:
                h = self._activate(h)
        return h.unsqueeze(0) if self.one_model else h

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        grad_norms: torch.Tensor | None = None,
        denominator: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Train on one batch, x (K, B, F) and y (K, B) as `targets` makes them (for one model
        (B, F) and (B,)); return the outputs the step's loss was taken on. With `grad_norms`
        (L, K), each layer's weight-gradient norm is added to it. With `denominator` (a rank's
        shard of a batch), the loss is that shard's part of the whole batch's mean."""
        inputs, pre_activations = [], []  # each layer's input h; each hidden layer's z
        h = x
        for layer in range(self.n_layers):
            inputs.append(h)
            z = self._linear(h, layer)
            if layer == self.n_layers - 1:
                outputs = z
                break
            pre_activations.append(z)
            h = self._activate(z)

        d = self.loss.gradient(outputs, y, self.class_weight, denominator)  # dL/dz
        optimizer, n, sync = self.optimizer, self.n_layers, self.sync
        for layer in reversed(range(n)):
            h = inputs[layer]
            below = None
            if layer > 0:  # before W changes
                w = self.weights[layer]
                below = d.mm(w) if self.one_model else torch.bmm(d, w)
            if sync is not None:  # kept for the all-reduce: the update waits for it
                _gradients_into(sync.grads[layer], sync.grads[n + layer], d, h, self.one_model)
            else:
                if grad_norms is not None:
                    grad_norms[layer] += _norms(d, h, self.one_model)
                optimizer.update_layer(layer, n + layer, d, h, one_model=self.one_model)
            if below is not None:
                self._activation_backward(below, pre_activations[layer - 1], h)
                d = below
        if sync is not None:
            sync()
            if grad_norms is not None:
                for layer in range(n):
                    grad_norms[layer] += sync.grads[layer].flatten(1).norm(dim=1)
            for i, grad in enumerate(sync.grads):
                optimizer.update(i, grad)
        return outputs.unsqueeze(0) if self.one_model else outputs


def _gradients_into(
    weight_grad: torch.Tensor,
    bias_grad: torch.Tensor,
    d: torch.Tensor,
    h: torch.Tensor,
    one_model: bool,
) -> None:
    """A layer's weight gradient d^T h and bias gradient (d summed over the batch), written
    into the stacked (K, out, in) and (K, out) tensors given."""
    if one_model:
        torch.mm(d.t(), h, out=weight_grad[0])
        torch.sum(d, dim=0, out=bias_grad[0])
    else:
        torch.bmm(d.transpose(1, 2), h, out=weight_grad)
        torch.sum(d, dim=1, out=bias_grad)


def _norms(d: torch.Tensor, h: torch.Tensor, one_model: bool) -> torch.Tensor:
    """(K,): the Frobenius norm of each model's weight gradient d^T h."""
    if one_model:
        return d.t().mm(h).norm().unsqueeze(0)
    return torch.bmm(d.transpose(1, 2), h).flatten(1).norm(dim=1)

"""The losses the engine trains on: the stacked loss's gradient is each model's own."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nncli.model.mlp import StackedMLP
from nncli.train.losses import Scorer, stacked_loss


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_gradient_of_the_stacked_loss_matches_finite_differences(task):
    activations, seeds = ["tanh", "sigmoid", "gelu"], [0, 1, 2]
    n_out = 3 if task == "classification" else 1
    stacked = StackedMLP.from_seeds([2, 4, n_out], activations, seeds).double()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)  # (K, B, F)
    if task == "classification":
        y = torch.randint(0, 3, (3, 5), generator=g)
    else:
        y = torch.randn(3, 5, generator=g, dtype=torch.float64)
    names = [name for name, _ in stacked.named_parameters()]

    def total_loss(*params: torch.Tensor) -> torch.Tensor:
        outputs = torch.func.functional_call(stacked, dict(zip(names, params, strict=True)), x)
        return stacked_loss(outputs, y, task)

    inputs = tuple(p.detach().clone().requires_grad_() for p in stacked.parameters())
    assert torch.autograd.gradcheck(total_loss, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_stacked_loss_gives_each_model_its_own_loss_gradient(task):
    activations, seeds = ["tanh", "relu", "sigmoid"], [0, 1, 2]
    n_out = 3 if task == "classification" else 1
    stacked = StackedMLP.from_seeds([2, 4, n_out], activations, seeds)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 2, generator=g)  # (K, B, F)
    y = torch.randint(0, 3, (3, 6), generator=g) if task == "classification" else x.sum(-1)
    stacked_loss(stacked(x), y, task).backward()
    for k, activation in enumerate(activations):
        alone = StackedMLP.from_seeds([2, 4, n_out], [activation], [seeds[k]]).member(0)
        out = alone(x[k])
        own = (
            F.cross_entropy(out, y[k]) if task == "classification" else F.mse_loss(out[:, 0], y[k])
        )
        own.backward()
        for layer, linear in enumerate(alone[::2]):
            torch.testing.assert_close(stacked.weights[layer].grad[k], linear.weight.grad)
            torch.testing.assert_close(stacked.biases[layer].grad[k], linear.bias.grad)


def test_the_scorer_reports_each_models_loss_and_metric_in_original_units():
    g = torch.Generator().manual_seed(2)
    outputs, targets = torch.randn(3, 10, 1, generator=g), torch.randn(3, 10, generator=g)
    scorer = Scorer(lambda x: x, "regression", target_scale=2.0)
    losses, metrics = scorer.score(outputs, targets)
    for k in range(3):
        mse = F.mse_loss(outputs[k, :, 0], targets[k]).item()
        assert losses[k] == pytest.approx(mse, rel=1e-6)
        assert metrics[k] == pytest.approx(4.0 * mse, rel=1e-6)  # MSE scales with the square
    logits, labels = torch.randn(2, 8, 3, generator=g), torch.randint(0, 3, (2, 8), generator=g)
    losses, accuracy = Scorer(lambda x: x, "classification", 1.0).score(logits, labels)
    for k in range(2):
        assert losses[k] == pytest.approx(F.cross_entropy(logits[k], labels[k]).item(), rel=1e-6)
        assert accuracy[k] == (logits[k].argmax(-1) == labels[k]).double().mean().item()


def test_class_weights_make_each_models_loss_the_weighted_mean_torch_computes():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 7, 4, generator=g, requires_grad=True)  # (K, B, C)
    labels = torch.randint(0, 4, (3, 7), generator=g)
    weight = torch.tensor([0.5, 2.0, 1.0, 3.0])
    stacked_loss(logits, labels, "classification", weight).backward()
    for k in range(3):
        alone = logits[k].detach().clone().requires_grad_()
        F.cross_entropy(alone, labels[k], weight=weight).backward()
        torch.testing.assert_close(logits.grad[k], alone.grad)
    losses, _ = Scorer(lambda x: x, "classification", 1.0, weight).score(logits.detach(), labels)
    for k in range(3):
        expected = F.cross_entropy(logits[k].detach(), labels[k], weight=weight).item()
        assert losses[k] == pytest.approx(expected, rel=1e-6)

"""The explicit back-propagation engine against autograd and finite differences.

A first SGD step with momentum leaves each parameter's gradient in its momentum buffer (SGD's
buffer starts as the gradient), so the explicit gradients can be read without hooks.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from nncli.model.activations import ACTIVATIONS
from nncli.model.mlp import StackedMLP
from nncli.train.backprop import ExplicitStep, covers
from nncli.train.losses import output_gradient, stacked_loss
from nncli.train.sgd import SGDSettings, StackedSGD

SIZES = [3, 5, 4, 3]  # two hidden layers: the gradient crosses an activation twice
TASKS = {"classification": 3, "regression": 1}


def batch(task: str, k: int, b: int = 7, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(k, b, SIZES[0], generator=g, dtype=dtype)
    if task == "classification":
        return x, torch.randint(0, 3, (k, b), generator=g)
    return x, torch.randn(k, b, generator=g, dtype=dtype)


def stacked(activations: list[str], task: str, dtype=torch.float32) -> StackedMLP:
    sizes = [*SIZES[:-1], TASKS[task]]
    model = StackedMLP.from_seeds(sizes, activations, list(range(len(activations))))
    return model.to(dtype)


def explicit_gradients(model, x, y, task, weight=None) -> list[torch.Tensor]:
    """The explicit engine's gradient of every parameter (stacked order), from one step on a
    copy of `model`."""
    model = copy.deepcopy(model)
    k = model.n_models
    optimizer = StackedSGD(list(model.parameters()), [SGDSettings(lr=0.1, momentum=0.5)] * k)
    step = ExplicitStep(model, optimizer, task, weight)
    step(x[0], step.targets(y[0])) if k == 1 else step(x, step.targets(y))
    return optimizer.momentum_buffers


def autograd_gradients(model, x, y, task, weight=None) -> list[torch.Tensor]:
    loss = stacked_loss(model(x), y, task, weight)
    return list(torch.autograd.grad(loss, list(model.parameters())))


# Every activation alone and all of them in one stack, for both tasks; class weights too.
CASES = [
    (task, activations, weighted)
    for task in TASKS
    for activations in [[name] for name in ACTIVATIONS] + [list(ACTIVATIONS)]
    for weighted in ([False, True] if task == "classification" else [False])
]


@pytest.mark.parametrize(("task", "activations", "weighted"), CASES)
def test_explicit_gradients_equal_autograds(task, activations, weighted):
    weight = torch.tensor([0.5, 2.0, 1.0]) if weighted else None
    for k in sorted({1, len(activations), 3}):
        names = (activations * k)[:k] if len(activations) == 1 else activations
        model = stacked(names, task)
        x, y = batch(task, len(names))
        expected = autograd_gradients(model, x, y, task, weight)
        ours = explicit_gradients(model, x, y, task, weight)
        for mine, theirs in zip(ours, expected, strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "gelu", "silu", "softplus", "elu"])
def test_explicit_gradients_match_finite_differences(task, activation):
    model = stacked([activation, activation], task, torch.float64)
    x, y = batch(task, 2, dtype=torch.float64)
    grads = explicit_gradients(model, x, y, task)
    eps = 1e-6
    with torch.no_grad():
        for param, grad in zip(model.parameters(), grads, strict=True):
            for index in [(0,) + (0,) * (param.dim() - 1), (1,) + (-1,) * (param.dim() - 1)]:
                saved = param[index].item()
                param[index] = saved + eps
                up = stacked_loss(model(x), y, task).item()
                param[index] = saved - eps
                down = stacked_loss(model(x), y, task).item()
                param[index] = saved
                assert grad[index].item() == pytest.approx((up - down) / (2 * eps), rel=1e-5)


def test_a_step_layer_passes_no_gradient_to_the_layers_below():
    model = stacked(["step"], "classification")
    x, y = batch("classification", 1)
    grads = explicit_gradients(model, x, y, "classification")
    n_layers = len(model.weights)
    below_the_output = grads[: n_layers - 1] + grads[n_layers : 2 * n_layers - 1]
    assert all(torch.count_nonzero(g) == 0 for g in below_the_output)
    assert torch.count_nonzero(grads[n_layers - 1]) > 0  # the output layer still learns


@pytest.mark.parametrize("task", TASKS)
def test_the_output_gradient_is_the_losss(task):
    outputs = torch.randn(2, 6, TASKS[task], requires_grad=True)
    _, y = batch(task, 2, b=6)
    for weight in [None, torch.tensor([1.0, 3.0, 0.5])] if task == "classification" else [None]:
        (expected,) = torch.autograd.grad(stacked_loss(outputs, y, task, weight), outputs)
        targets = F.one_hot(y, 3).float() if task == "classification" else y
        torch.testing.assert_close(
            output_gradient(outputs.detach(), targets, task, weight), expected
        )


def test_prediction_equals_the_stacked_forward_with_mixed_activations():
    model = stacked(list(ACTIVATIONS), "classification")
    step = ExplicitStep(
        model, StackedSGD(list(model.parameters()), [SGDSettings(0.1)]), "classification"
    )
    x = torch.randn(9, SIZES[0])
    with torch.no_grad():
        expected = model(x.expand(model.n_models, *x.shape))
    assert torch.equal(step.predict(x), expected)


def test_every_registered_activation_is_covered():
    assert covers(stacked(list(ACTIVATIONS), "regression"))

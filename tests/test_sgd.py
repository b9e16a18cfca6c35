"""StackedSGD against torch.optim.SGD: bit for bit when models agree, model by model when not."""

from __future__ import annotations

import pytest
import torch

from nncli.train.sgd import SGDSettings, StackedSGD, UpdateRule

SETTINGS = [
    SGDSettings(lr=0.1),
    SGDSettings(lr=0.05, momentum=0.9),
    SGDSettings(lr=0.2, momentum=0.5, nesterov=True),
    SGDSettings(lr=0.1, weight_decay=0.01),
    SGDSettings(lr=0.03, momentum=0.9, weight_decay=1e-3, nesterov=True),
]


def gradients(step: int, shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    return [torch.randn(shape, generator=g) for shape in shapes]


def run_torch(params: list[torch.Tensor], s: SGDSettings, steps: int) -> list[torch.Tensor]:
    params = [p.clone().requires_grad_() for p in params]
    optimizer = torch.optim.SGD(params, lr=s.lr, momentum=s.momentum,
                                weight_decay=s.weight_decay, nesterov=s.nesterov)  # fmt: skip
    for step in range(steps):
        for p, grad in zip(params, gradients(step, [p.shape for p in params]), strict=True):
            p.grad = grad
        optimizer.step()
    return [p.detach() for p in params]


def run_ours(params, settings, steps: int) -> list[torch.Tensor]:
    params = [p.clone().requires_grad_() for p in params]
    optimizer = StackedSGD(params, settings)
    for step in range(steps):
        for p, grad in zip(params, gradients(step, [p.shape for p in params]), strict=True):
            p.grad = grad
        optimizer.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("settings", SETTINGS)
def test_shared_settings_are_torch_sgd_bit_for_bit(settings):
    params = gradients(99, [(3, 4, 5), (3, 4)])  # (K, out, in) and (K, out)
    expected = run_torch(params, settings, steps=6)
    ours = run_ours(params, [settings] * 3, steps=6)
    for a, b in zip(ours, expected, strict=True):
        assert torch.equal(a, b)


def test_each_model_gets_its_own_settings():
    k = len(SETTINGS)
    params = gradients(7, [(k, 4, 3), (k, 4)])
    ours = run_ours(params, SETTINGS, steps=8)
    for i, settings in enumerate(SETTINGS):
        # Model i alone: its slice of every parameter and of every gradient.
        alone = [p[i : i + 1] for p in params]
        params_i = [p.clone().requires_grad_() for p in alone]
        optimizer = torch.optim.SGD(params_i, lr=settings.lr, momentum=settings.momentum,
                                    weight_decay=settings.weight_decay,
                                    nesterov=settings.nesterov)  # fmt: skip
        for step in range(8):
            for p, full in zip(params_i, gradients(step, [q.shape for q in params]), strict=True):
                p.grad = full[i : i + 1]
            optimizer.step()
        for mine, theirs in zip(ours, params_i, strict=True):
            torch.testing.assert_close(mine[i : i + 1], theirs.detach(), rtol=1e-6, atol=1e-7)


def test_momentum_buffers_round_trip_through_the_state_dict():
    params = gradients(3, [(2, 3)])
    settings = [SGDSettings(lr=0.1, momentum=0.9), SGDSettings(lr=0.2)]
    whole = run_ours(params, settings, steps=4)
    first = [p.clone().requires_grad_() for p in params]
    optimizer = StackedSGD(first, settings)
    for step in range(2):
        first[0].grad = gradients(step, [(2, 3)])[0]
        optimizer.step()
    resumed = StackedSGD(first, settings)
    resumed.load_state_dict(optimizer.state_dict())
    for step in range(2, 4):
        first[0].grad = gradients(step, [(2, 3)])[0]
        resumed.step()
    assert torch.equal(first[0].detach(), whole[0])


def run_layer_updates(settings, k: int, one_model: bool, *, fused: bool) -> list[torch.Tensor]:
    """Six steps on a linear layer whose gradients are d^T h and d summed over the batch:
    through `update_layer` (fused where it can) or as gradients through `update`."""
    params = [p.clone() for p in gradients(5, [(k, 4, 3), (k, 4)])]
    optimizer = StackedSGD(params, settings)
    for step in range(6):
        d, h = gradients(100 + step, [(k, 8, 4), (k, 8, 3)])
        if one_model:
            d, h = d[0], h[0]
        if fused:
            optimizer.update_layer(0, 1, d.clone(), h, one_model=one_model)
        else:
            d3, h3 = (d.unsqueeze(0), h.unsqueeze(0)) if one_model else (d, h)
            optimizer.update(0, torch.bmm(d3.transpose(1, 2), h3))
            optimizer.update(1, d3.sum(1))
    return params


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("one_model", [True, False])
def test_a_layer_update_from_its_gradient_product_equals_the_plain_update(settings, one_model):
    k = 1 if one_model else 3
    fused = run_layer_updates([settings] * k, k, one_model, fused=True)
    plain = run_layer_updates([settings] * k, k, one_model, fused=False)
    for a, b in zip(fused, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("decays", [(0.0, 0.0), (0.0, 0.05), (0.01, 0.05)])
def test_per_model_layer_updates_equal_the_plain_update(momentum, decays):
    settings = [
        SGDSettings(lr=lr, momentum=momentum, weight_decay=decay)
        for lr, decay in zip((0.1, 0.01), decays, strict=True)
    ]
    fused = run_layer_updates(settings, 2, False, fused=True)
    plain = run_layer_updates(settings, 2, False, fused=False)
    for a, b in zip(fused, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_one_model_of_a_stack_with_settings_of_its_own_updates_as_the_plain_update(decay):
    """A part of one model cut from a stack whose models differ (a sweep split across
    processes) takes the stack's per-model rule on its 2-D views."""
    stack = [SGDSettings(lr=0.1, weight_decay=decay), SGDSettings(lr=0.01)]
    rule = UpdateRule.of(stack)
    assert not rule.shared
    params = [p.clone() for p in gradients(5, [(1, 4, 3), (1, 4)])]
    plain = [p.clone() for p in params]
    part, reference = StackedSGD(params, stack[:1], rule), StackedSGD(plain, stack[:1])
    for step in range(6):
        d, h = gradients(100 + step, [(1, 8, 4), (1, 8, 3)])
        part.update_layer(0, 1, d[0].clone(), h[0], one_model=True)
        reference.update(0, torch.bmm(d.transpose(1, 2), h))
        reference.update(1, d.sum(1))
    for a, b in zip(params, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)

"""The activation registry, checked against autograd, finite differences and values by hand."""

from __future__ import annotations

import pytest
import torch

from nncli.model.activations import ACTIVATIONS, Activation
from nncli.model.diagnostics import SATURATION_THRESHOLD

NAMES = sorted(ACTIVATIONS)
SMOOTH_OR_KINKED = [name for name in NAMES if name != "step"]


def away_from_zero(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Float64 inputs with |x| >= 0.1, so kinks at 0 (relu, leaky_relu, elu) are never crossed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    return x + 0.1 * torch.sign(x)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 4, 6)])
def test_each_activation_keeps_shape_and_dtype(name, shape):
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
        for out in (ACTIVATIONS[name].fn(x), ACTIVATIONS[name].derivative(x)):
            assert out.shape == x.shape
            assert out.dtype == dtype


@pytest.mark.parametrize("name", SMOOTH_OR_KINKED)
def test_gradient_matches_finite_differences(name):
    x = away_from_zero((4, 5)).requires_grad_()
    assert torch.autograd.gradcheck(ACTIVATIONS[name].fn, (x,), eps=1e-6, atol=1e-6, rtol=1e-5)


# Zero (every kink), both signed zeros, tiny and huge inputs, softplus's switch to x at 20, and
# a grid: the derivative must be exact wherever the function is computed, not just near 0.
EDGES = [0.0, -0.0, 1e-30, -1e-30, 19.999, 20.0, 20.001, -20.0, 50.0, -50.0, 1e4, -1e4]


@pytest.mark.parametrize("name", NAMES)
def test_derivative_equals_autograd_everywhere(name):
    grid = torch.linspace(-30, 30, 6001, dtype=torch.float64)
    x = torch.cat([torch.tensor(EDGES, dtype=torch.float64), grid]).requires_grad_()
    (expected,) = torch.autograd.grad(ACTIVATIONS[name].fn(x).sum(), x)
    derivative = ACTIVATIONS[name].derivative(x.detach())
    # A few ulps apart at most: formulas such as 1 - tanh^2 round differently from autograd's.
    torch.testing.assert_close(derivative, expected, rtol=1e-12, atol=1e-15)


def test_derivatives_at_zero_by_hand():
    zero = torch.zeros(1, dtype=torch.float64)
    at_zero = {name: float(spec.derivative(zero)) for name, spec in ACTIVATIONS.items()}
    assert at_zero == pytest.approx(
        {"identity": 1.0, "step": 0.0, "sigmoid": 0.25, "tanh": 1.0, "relu": 0.0,
         "leaky_relu": 0.01, "elu": 1.0, "gelu": 0.5, "silu": 0.5, "softplus": 0.5},
        rel=1e-15,
    )  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_family_matches_the_shape_of_the_derivative(name):
    spec = ACTIVATIONS[name]
    far = torch.tensor([-10.0, 10.0], dtype=torch.float64)
    low, high = spec.derivative(far).tolist()
    if spec.family == "relu-like":  # nearly no gradient below zero, a slope of one above
        assert abs(low) <= 0.01 and high == pytest.approx(1.0, abs=1e-3)
    elif spec.family == "saturating":  # flat on both sides, steepest at zero
        assert spec.max_derivative is not None
        assert max(abs(low), abs(high)) < SATURATION_THRESHOLD * spec.max_derivative
    else:
        assert name in {"identity", "step", "softplus"}, f"{name}: give it a family"


@pytest.mark.parametrize("name", [n for n in NAMES if ACTIVATIONS[n].max_derivative is not None])
def test_max_derivative_is_the_largest_slope(name):
    spec = ACTIVATIONS[name]
    grid = spec.derivative(torch.linspace(-30, 30, 600_001, dtype=torch.float64))
    assert float(grid.max()) == pytest.approx(spec.max_derivative, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_blocks_gradient_exactly_where_autograd_passes_nothing_back(name):
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64).requires_grad_()
    ACTIVATIONS[name].fn(x).sum().backward()
    assert ACTIVATIONS[name].blocks_gradient == bool((x.grad == 0).all())


def test_step_is_heaviside_with_zero_at_zero():
    x = torch.tensor([-3.0, -1e-30, 0.0, -0.0, 1e-30, 2.5, float("inf"), -float("inf")])
    expected = torch.heaviside(x, torch.tensor(0.0))
    assert torch.equal(ACTIVATIONS["step"].fn(x), expected)
    assert ACTIVATIONS["step"].fn(x).tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]


def test_step_gradient_is_exactly_zero_not_none():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64).requires_grad_()  # includes 0 exactly
    upstream = torch.arange(1, 42, dtype=torch.float64)  # non-uniform, so nothing cancels
    (ACTIVATIONS["step"].fn(x) * upstream).sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_step_blocks_gradient_to_layers_below():
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 4)
    x = torch.randn(5, 3)
    ACTIVATIONS["step"].fn(layer(x)).sum().backward()
    assert layer.weight.grad is not None
    assert torch.equal(layer.weight.grad, torch.zeros_like(layer.weight))
    assert torch.equal(layer.bias.grad, torch.zeros_like(layer.bias))


def test_sigmoid_derivative_never_exceeds_a_quarter():
    x = torch.linspace(-30, 30, 600_001, dtype=torch.float64).requires_grad_()
    ACTIVATIONS["sigmoid"].fn(x).sum().backward()
    assert float(x.grad.max()) <= 0.25
    assert float(x.grad.max()) == pytest.approx(0.25, abs=1e-12)  # attained at x = 0
    assert float(x.grad[300_000]) == 0.25  # x = 0 exactly, sigma(0)(1 - sigma(0)) = 1/4
    assert float(x.grad.min()) >= 0.0


@pytest.mark.parametrize(
    ("name", "inputs", "expected"),
    [
        ("identity", [-2.0, 0.0, 3.0], [-2.0, 0.0, 3.0]),
        ("relu", [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
        ("leaky_relu", [-2.0, 0.0, 3.0], [-0.02, 0.0, 3.0]),
        ("tanh", [0.0], [0.0]),
        ("sigmoid", [0.0], [0.5]),
        ("silu", [0.0, 1.0], [0.0, 1 / (1 + 2.718281828459045**-1)]),
        ("softplus", [0.0], [0.6931471805599453]),
        ("elu", [-1.0, 2.0], [2.718281828459045**-1 - 1, 2.0]),
        ("gelu", [0.0], [0.0]),
    ],
)
def test_hand_computed_values(name, inputs, expected):
    out = ACTIVATIONS[name].fn(torch.tensor(inputs, dtype=torch.float64))
    assert out.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_activation_module_applies_the_registry_function_and_shows_its_name(name):
    module = Activation(name)
    assert repr(module) == f"Activation({name})"
    assert module.name == name
    x = away_from_zero((2, 3))
    assert torch.equal(module(x), ACTIVATIONS[name].fn(x))


def test_unknown_activation_name_is_a_key_error():
    with pytest.raises(KeyError):
        Activation("swishy")


def test_the_config_schema_knows_every_registered_activation_by_name():
    from nncli.config.schema import ACTIVATION_NAMES

    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES

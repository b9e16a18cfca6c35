"""Dead and saturated units, counted on networks built so the answer is known by hand."""

from __future__ import annotations

import pytest
import torch

from nncli.model.activations import ACTIVATIONS
from nncli.model.diagnostics import dead_fraction, hidden_preactivations, saturated_fraction
from nncli.model.mlp import seeded_mlp

X = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))


def test_hidden_preactivations_are_each_hidden_linear_output():
    net = seeded_mlp([2, 4, 3, 2], "tanh", 0)
    first, second = hidden_preactivations(net, X)
    expected_first = X @ net[0].weight.T + net[0].bias
    expected_second = torch.tanh(expected_first) @ net[2].weight.T + net[2].bias
    torch.testing.assert_close(first, expected_first)
    torch.testing.assert_close(second, expected_second)
    assert hidden_preactivations(seeded_mlp([2, 3], "relu", 0), X) == []


def test_dead_and_saturated_units_against_constructed_networks():
    net = seeded_mlp([2, 4, 3], "relu", 0)
    with torch.no_grad():
        net[0].bias[1] = -1e3  # unit 2 can never fire
        net[0].bias[0] = 1e3  # unit 1 always fires
    assert dead_fraction(net, "relu", X) == pytest.approx(1 / 4)
    assert dead_fraction(net, "tanh", X) is None and saturated_fraction(net, "relu", X) is None
    saturated = seeded_mlp([2, 4, 3], "sigmoid", 0)
    with torch.no_grad():
        saturated[0].bias.copy_(torch.tensor([100.0, -100.0, 0.0, 0.0]))
        saturated[0].weight.zero_()
    # Two of four units sit at sigmoid(+-100) for every sample; the others at sigmoid(0).
    assert saturated_fraction(saturated, "sigmoid", X) == pytest.approx(0.5)


def test_dead_units_are_counted_over_every_hidden_layer():
    net = seeded_mlp([2, 4, 6, 3], "relu", 1)
    with torch.no_grad():
        net[2].bias[:3] = -1e3  # three of the second layer's six units never fire
    # 3 dead of 10 hidden units, besides any the random first layer happens to kill.
    dead_first = int((hidden_preactivations(net, X)[0] <= 0).all(dim=0).sum())
    assert dead_fraction(net, "relu", X) == pytest.approx((3 + dead_first) / 10)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activation_gets_the_diagnostic_of_its_family(name):
    family = ACTIVATIONS[name].family
    net = seeded_mlp([2, 5, 3], name, 0)
    dead, saturated = dead_fraction(net, name, X), saturated_fraction(net, name, X)
    assert (dead is not None) == (family == "relu-like")
    assert (saturated is not None) == (family == "saturating")
    for fraction in (dead, saturated):
        assert fraction is None or 0.0 <= fraction <= 1.0


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_saturation_threshold_is_relative_to_the_largest_slope(name):
    # One unit per pre-activation value: sigmoid' / 0.25 and tanh' / 1 at z are below 0.05 from
    # |z| = 4.36 (sigmoid) and 2.18 (tanh) on, by hand from s(1 - s) = 0.0125 and 1 - t^2 = 0.05.
    z = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, -7.0])
    net = seeded_mlp([1, len(z), 1], name, 0)
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(z)
    flat_from = {"sigmoid": 4.36, "tanh": 2.18}[name]
    expected = float((z.abs() > flat_from).double().mean())
    assert saturated_fraction(net, name, torch.zeros(3, 1)) == pytest.approx(expected)

"""MLP construction and the stacked model, checked against plain `torch.nn` modules."""

from __future__ import annotations

import itertools
import os

import pytest
import torch
from torch import nn

from nncli.model.activations import Activation
from nncli.model.mlp import StackedMLP, build_mlp, layer_sizes, seeded_mlp


def reference_mlp(sizes: list[int], hidden: type[nn.Module], seed: int) -> nn.Sequential:
    """The same network written out by hand with stock torch.nn modules."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(hidden())
    return nn.Sequential(*layers)


def assert_same_parameters(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


def test_layer_sizes_puts_inputs_and_outputs_around_the_widths():
    assert layer_sizes(4, [], 3) == [4, 3]
    assert layer_sizes(4, [8, 5], 1) == [4, 8, 5, 1]


def test_depth_zero_is_a_single_linear_layer():
    net = build_mlp(layer_sizes(3, [], 2), "step")
    assert len(net) == 1
    assert isinstance(net[0], nn.Linear)
    assert (net[0].in_features, net[0].out_features) == (3, 2)
    assert not any(isinstance(m, Activation) for m in net.modules())


def test_depth_two_alternates_linear_and_activation():
    net = build_mlp([2, 8, 8, 3], "tanh")
    assert [type(m) for m in net] == [nn.Linear, Activation, nn.Linear, Activation, nn.Linear]
    assert [(m.in_features, m.out_features) for m in net[::2]] == [(2, 8), (8, 8), (8, 3)]
    assert [m.name for m in net[1::2]] == ["tanh", "tanh"]
    assert list(net.state_dict()) == [f"{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]


def test_width_list_gives_layers_of_different_widths():
    net = build_mlp(layer_sizes(5, [7, 4, 6], 1), "relu")
    assert [(m.in_features, m.out_features) for m in net[::2]] == [(5, 7), (7, 4), (4, 6), (6, 1)]
    assert [m.name for m in net[1::2]] == ["relu"] * 3
    x = torch.randn(9, 5, generator=torch.Generator().manual_seed(0))
    assert net(x).shape == (9, 1)


def test_meta_device_allocates_nothing_and_draws_no_random_numbers():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    net = build_mlp([3, 4, 2], "relu", device="meta")
    assert all(p.is_meta for p in net.parameters())
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(("activation", "module"), [("relu", nn.ReLU), ("tanh", nn.Tanh)])
def test_seeded_mlp_equals_a_hand_built_model_from_the_same_seed(activation, module):
    sizes = [3, 6, 5, 2]
    with torch.random.fork_rng(devices=[]):
        reference = reference_mlp(sizes, module, seed=11)
    net = seeded_mlp(sizes, activation, seed=11)
    assert_same_parameters(net, reference)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(net(x), reference(x))


def test_seeded_mlp_is_deterministic_per_seed_and_differs_across_seeds():
    sizes = [2, 4, 3]
    assert_same_parameters(seeded_mlp(sizes, "relu", 5), seeded_mlp(sizes, "relu", 5))
    a, b = seeded_mlp(sizes, "relu", 5), seeded_mlp(sizes, "relu", 6)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert not torch.equal(pa, pb)


def test_seeded_mlp_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    seeded_mlp([4, 8, 2], "tanh", seed=0)
    assert torch.equal(torch.rand(5), expected)


ACTIVATIONS_K = ["relu", "relu", "tanh", "sigmoid", "step", "identity"]
SEEDS_K = [0, 1, 0, 2, 3, 1]
SIZES = [3, 5, 4, 2]


@pytest.fixture
def stacked() -> StackedMLP:
    return StackedMLP.from_seeds(SIZES, ACTIVATIONS_K, SEEDS_K)


def test_stacked_parameter_shapes(stacked):
    k = len(ACTIVATIONS_K)
    assert stacked.n_models == k
    assert [tuple(w.shape) for w in stacked.weights] == [(k, 5, 3), (k, 4, 5), (k, 2, 4)]
    assert [tuple(b.shape) for b in stacked.biases] == [(k, 5), (k, 4), (k, 2)]


def test_member_equals_seeded_mlp_parameter_by_parameter(stacked):
    for k, (activation, seed) in enumerate(zip(ACTIVATIONS_K, SEEDS_K, strict=True)):
        member = stacked.member(k)
        assert [m.name for m in member[1::2]] == [activation, activation]
        assert_same_parameters(member, seeded_mlp(SIZES, activation, seed))


def test_same_seed_and_shape_gives_the_same_weights_whatever_the_activation(stacked):
    # Models 0 and 2 share seed 0 (relu, tanh); initialization does not depend on the activation.
    for weight in stacked.weights:
        assert torch.equal(weight[0], weight[2])
    assert not torch.equal(stacked.weights[0][0], stacked.weights[0][1])


@pytest.mark.parametrize(
    ("activations", "seeds"),
    [
        (ACTIVATIONS_K, SEEDS_K),
        (["relu", "tanh", "relu", "tanh"], [4, 4, 5, 5]),  # the same name in two runs
        (["gelu"] * 3, [1, 2, 3]),
    ],
)
def test_stacked_forward_equals_each_members_forward_to_float32_rounding(activations, seeds):
    # Batched kernels (baddbmm, vectorized sigmoid over the whole stack) may round differently
    # from the single-model ones, by about one float32 ulp, so equality is to rounding only.
    stacked = StackedMLP.from_seeds(SIZES, activations, seeds)
    k = len(activations)
    x = torch.randn(k, 7, SIZES[0], generator=torch.Generator().manual_seed(9))  # (K, B, F)
    out = stacked(x)  # (K, B, C)
    assert out.shape == (k, 7, SIZES[-1])
    for i, (activation, seed) in enumerate(zip(activations, seeds, strict=True)):
        member, solo = stacked.member(i)(x[i]), seeded_mlp(SIZES, activation, seed)(x[i])
        torch.testing.assert_close(out[i], member, rtol=1e-6, atol=1e-6, msg=str((i, activation)))
        assert torch.equal(member, solo), (i, activation)


def test_depth_zero_stack_is_k_perceptrons():
    stacked = StackedMLP.from_seeds([4, 3], ["step", "relu"], [0, 1])
    x = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0))
    for i in range(2):
        member = stacked.member(i)
        assert len(member) == 1
        torch.testing.assert_close(stacked(x)[i], member(x[i]), rtol=1e-6, atol=1e-6)


def test_member_with_share_is_a_view_and_without_is_a_copy(stacked):
    shared, copied = stacked.member(2, share=True), stacked.member(2, share=False)
    before = stacked.weights[1][2].clone()
    with torch.no_grad():
        shared[2].weight.add_(1.0)
    assert torch.equal(stacked.weights[1][2], before + 1.0)
    assert torch.equal(shared[2].weight, stacked.weights[1][2])
    assert torch.equal(copied[2].weight, before)
    # Only model 2 moved.
    assert torch.equal(stacked.weights[1][1], stacked.member(1)[2].weight)
    assert torch.equal(stacked.weights[1][1], seeded_mlp(SIZES, "relu", 1)[2].weight)

    with torch.no_grad():
        copied[0].bias.fill_(7.0)
    assert not torch.equal(stacked.biases[0][2], copied[0].bias)


def test_member_is_an_ordinary_trainable_module(stacked):
    member = stacked.member(3)
    assert all(p.requires_grad and not p.is_meta for p in member.parameters())
    member(torch.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in member.parameters())


def test_a_network_that_cannot_be_trained_in_memory_is_refused_naming_width_and_depth(
    monkeypatch,
):
    from nncli.errors import UsageError
    from nncli.model import mlp as model

    monkeypatch.setattr(model, "memory_bytes", lambda: 2**30)  # 1 GiB
    sizes = [2, 6000, 6000, 2]  # 36 million parameters, 20 bytes each to train: 0.67 GiB
    model.check_fits_in_memory(sizes, n_models=1)
    shown = r"^model\.width, model\.depth: 2 network\(s\) of layer sizes 2 → 6000 → 6000 → 2"
    with pytest.raises(UsageError, match=shown + " hold 72,0"):
        model.check_fits_in_memory(sizes, n_models=2)


def test_memory_is_the_address_space_limit_when_lower(monkeypatch):
    import resource

    from nncli.model import mlp as model

    monkeypatch.setattr(resource, "getrlimit", lambda kind: (3 << 30, resource.RLIM_INFINITY))
    assert model.memory_bytes() == min(
        3 << 30, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    )

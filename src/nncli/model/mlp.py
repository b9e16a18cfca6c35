"""MLPs as plain `torch.nn` modules, and K of them stacked along a leading model axis."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from nncli.errors import UsageError
from nncli.memory import memory_bytes
from nncli.model.activations import ACTIVATIONS, Activation

# Bytes each parameter holds while training, all float32: the weight, its gradient, the
# momentum buffer, the best weights so far and the copy a checkpoint save makes.
TRAINING_BYTES_PER_PARAMETER = 5 * 4


def check_fits_in_memory(sizes: list[int], n_models: int) -> None:
    """Refuse, before anything is allocated, `n_models` networks of layer `sizes` (inputs
    first) whose training would not fit in memory: torch fails mid-allocation, with C++ frames,
    or the system kills the process."""
    parameters = n_models * sum(a * b + b for a, b in itertools.pairwise(sizes))
    needed, available = parameters * TRAINING_BYTES_PER_PARAMETER, memory_bytes()
    if needed > available:
        raise UsageError(
            f"model.width, model.depth: {n_models} network(s) of layer sizes"
            f" {' → '.join(map(str, sizes))} hold {parameters:,} parameters, about"
            f" {needed / 2**30:,.1f} GiB to train; this machine has {available / 2**30:,.1f} GiB"
        )


def check_widths_fit(widths: list[int], where: str) -> None:
    """Refuse hidden layers whose training would not fit in memory whatever the data: what a
    resumed run checks of its config.yaml before it reads the state saved in that shape."""
    parameters = sum(a * b + b for a, b in itertools.pairwise(widths))
    needed, available = parameters * TRAINING_BYTES_PER_PARAMETER, memory_bytes()
    if needed > available:
        raise UsageError(
            f"{where}: model.width, model.depth: hidden layers of sizes"
            f" {' → '.join(map(str, widths))} hold {parameters:,} parameters, about"
            f" {needed / 2**30:,.1f} GiB to train; this machine has {available / 2**30:,.1f} GiB"
        )


def layer_sizes(n_inputs: int, widths: list[int], n_outputs: int) -> list[int]:
    return [n_inputs, *widths, n_outputs]


def build_mlp(sizes: list[int], activation: str, *, device: str | None = None) -> nn.Sequential:
    """Linear, activation, ..., Linear: a plain module anyone can load, with no nncli code.

    On the "meta" device no memory is allocated and no random numbers are drawn.
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out, device=device))
        if i < len(sizes) - 2:
            layers.append(Activation(activation))
    return nn.Sequential(*layers)


def seeded_mlp(sizes: list[int], activation: str, seed: int) -> nn.Sequential:
    """`build_mlp` with PyTorch's default initialization drawn from `seed` alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_mlp(sizes, activation)


class StackedMLP(nn.Module):
    """K independent MLPs of one shape: layer l's weights are one (K, out, in) tensor.

    Model k may have its own activation; models sharing one should be contiguous along K so
    each activation is applied to a slice. Model k computes what `member(k)` computes, up to
    float32 rounding: batched kernels may round differently from the single-model ones.
    """

    def __init__(self, sizes: list[int], activations: list[str]):
        super().__init__()
        k = len(activations)
        self.sizes = list(sizes)
        self.activations = list(activations)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(k, n_out, n_in)) for n_in, n_out in itertools.pairwise(sizes)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(k, n_out)) for n_out in sizes[1:])
        # (start, stop, name) of each run of equal activations along K.
        self.activation_runs: list[tuple[int, int, str]] = []
        for k, name in enumerate(activations):
            if self.activation_runs and self.activation_runs[-1][2] == name:
                start, _, _ = self.activation_runs[-1]
                self.activation_runs[-1] = (start, k + 1, name)
            else:
                self.activation_runs.append((k, k + 1, name))

    @classmethod
    def from_seeds(cls, sizes: list[int], activations: list[str], seeds: list[int]) -> StackedMLP:
        """Stack the models `seeded_mlp` would build, one per (activation, seed) pair."""
        stacked = cls(sizes, activations)
        with torch.no_grad():
            for k, (activation, seed) in enumerate(zip(activations, seeds, strict=True)):
                linears = seeded_mlp(sizes, activation, seed)[::2]
                for layer, linear in enumerate(linears):
                    stacked.weights[layer][k] = linear.weight
                    stacked.biases[layer][k] = linear.bias
        return stacked

    @property
    def n_models(self) -> int:
        return len(self.activations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(K, B, F) -> (K, B, C)."""
        h = x
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))  # (K, B, H)
            if layer < last:
                h = self._activate(h)
        return h

    def _activate(self, h: torch.Tensor) -> torch.Tensor:
        functions = [ACTIVATIONS[name].fn for _, _, name in self.activation_runs]
        if len(functions) == 1:
            return functions[0](h)
        # Autograd's path (the explicit engine, backprop.py, activates slices in place). One
        # split, whose backward is one cat, rather than a slice per run: slicing's backward
        # fills a zero tensor of the whole stack for every run.
        parts = torch.split(h, [stop - start for start, stop, _ in self.activation_runs])
        return torch.cat([fn(part) for fn, part in zip(functions, parts, strict=True)])

    def member(self, k: int, *, share: bool = False) -> nn.Sequential:
        """Model k as a plain `nn.Sequential`; with `share`, its parameters are views of ours."""
        net = build_mlp(self.sizes, self.activations[k], device="meta")
        for linear, weight, bias in zip(net[::2], self.weights, self.biases, strict=True):
            w, b = weight.detach()[k], bias.detach()[k]
            linear.weight = nn.Parameter(w if share else w.clone())
            linear.bias = nn.Parameter(b if share else b.clone())
        return net


def load_parameters(model: nn.Module, params: list[torch.Tensor]) -> None:
    """Copy saved parameters into `model`, refusing any that do not fit."""
    from nncli.errors import UsageError

    mine = list(model.parameters())
    shapes = [tuple(p.shape) for p in mine]
    if shapes != [tuple(p.shape) for p in params]:
        raise UsageError(f"saved parameters do not fit the model's shapes {shapes}")
    with torch.no_grad():
        for target, saved in zip(mine, params, strict=True):
            target.copy_(saved)

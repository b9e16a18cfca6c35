"""The training loops `run.py` times against nncli: same data, shapes, loss and SGD.

Every side trains `spec.sizes` (inputs, hidden widths..., classes) with ReLU, softmax
cross-entropy and plain SGD (learning rate `spec.lr`, no momentum, no weight decay) for
`spec.epochs` epochs of batches of `spec.batch`, and returns its training time per step, or None
where it cannot run that spec (printed "n/a"). nncli, the explicit loop and the bare autograd
loop draw the same batches: each epoch a `torch.randperm` from a generator seeded with
`spec.seed`, as nncli's engine does. scikit-learn and Lightning shuffle with their own generators.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import logging
import statistics
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nncli.model.mlp import StackedMLP
from nncli.train.engine import fit
from nncli.train.sgd import SGDSettings
from nncli.train.state import FitOptions, FitSettings, ModelSettings

Data = tuple[torch.Tensor, torch.Tensor]  # (N, F) float32, (N,) int64 class labels


@dataclass(frozen=True)
class Spec:
    sizes: tuple[int, ...]  # inputs, hidden widths..., classes
    batch: int
    epochs: int
    lr: float = 0.05
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # fp32, tf32 (CUDA matmuls) or bf16 (autocast)


Side = Callable[[Spec, Data], float | None]  # seconds per training step, None: n/a


def classification_data(n: int, features: int, classes: int, seed: int, device: str) -> Data:
    """Gaussian features, each row labelled by the largest of `classes` random linear scores."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = (x @ torch.randn(features, classes, generator=g)).argmax(dim=1)
    return x.to(device), y.to(device)


def steps_per_epoch(n: int, batch: int) -> int:
    return -(-n // batch)


def multiply_adds(sizes: tuple[int, ...]) -> int:
    """Per sample and layer pass: Σ in·out. A training step costs about 6x this in FLOPs per
    sample (forward 2x, input and weight gradients 2x each)."""
    return sum(a * b for a, b in itertools.pairwise(sizes))


class Timer:
    """Wall-clock seconds of a block, waiting for the GPU's queued work at both ends."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        if self.cuda:
            torch.cuda.synchronize()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


@contextmanager
def tf32(enabled: bool):
    """CUDA matrix products in TensorFloat-32 inside the block (the CPU has no tf32)."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def relu_mlp(spec: Spec) -> nn.Sequential:
    """Linear, ReLU, ..., Linear with PyTorch's default initialization drawn from the seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        layers: list[nn.Module] = []
        for n_in, n_out in itertools.pairwise(spec.sizes):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        return nn.Sequential(*layers[:-1]).to(spec.device)


def epoch_batches(data: Data, spec: Spec, g: torch.Generator, *extra: torch.Tensor):
    """Each epoch's batches in nncli's order: `randperm` from `g`, then consecutive slices."""
    x = data[0]
    for _ in range(spec.epochs):
        perm = torch.randperm(len(x), generator=g).to(x.device)
        shuffled = [t[perm] for t in (*data, *extra)]
        for lo in range(0, len(x), spec.batch):
            yield [t[lo : lo + spec.batch] for t in shuffled]


def bare_train(net: nn.Sequential, data: Data, spec: Spec) -> None:
    """The textbook loop: module forward, `F.cross_entropy`, `backward`, `torch.optim.SGD`."""
    optimizer = torch.optim.SGD(net.parameters(), lr=spec.lr)
    autocast = torch.autocast(spec.device.split(":")[0], torch.bfloat16, spec.precision == "bf16")
    g = torch.Generator().manual_seed(spec.seed)
    for x, y in epoch_batches(data, spec, g):
        with autocast:
            loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def explicit_step(
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    x: torch.Tensor,
    onehot: torch.Tensor,
    lr: float,
) -> None:
    """One SGD step written out, no autograd: the lower bound for an explicit engine."""
    inputs = []  # each layer's input, kept for its weight gradient
    h = x  # (B, F)
    last = len(weights) - 1
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        inputs.append(h)
        h = torch.addmm(b, h, w.t())  # (B, out)
        if layer < last:
            h.relu_()
    d = torch.softmax(h, dim=1).sub_(onehot).div_(len(x))  # (B, C): d(mean loss)/d(outputs)
    for layer in range(last, -1, -1):
        w, h_in = weights[layer], inputs[layer]
        d_prev = d.mm(w) if layer > 0 else None  # (B, in), with w before its update
        w.addmm_(d.t(), h_in, alpha=-lr)
        biases[layer].add_(d.sum(dim=0), alpha=-lr)
        if d_prev is not None:
            d = d_prev.mul_(h_in > 0)  # ReLU's derivative, read off its output


@torch.no_grad()
def explicit_train(
    weights: list[torch.Tensor], biases: list[torch.Tensor], data: Data, spec: Spec
) -> None:
    onehot = F.one_hot(data[1], spec.sizes[-1]).float()  # (N, C)
    g = torch.Generator().manual_seed(spec.seed)
    for x, _, target in epoch_batches(data, spec, g, onehot):
        explicit_step(weights, biases, x, target, spec.lr)


def parameters(spec: Spec) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """`relu_mlp(spec)`'s weights and biases as plain tensors."""
    linears = relu_mlp(spec)[::2]
    return [m.weight.detach() for m in linears], [m.bias.detach() for m in linears]


def nncli_side(spec: Spec, data: Data, **extra) -> float | None:
    """`engine.fit` on one stacked model, without a validation split."""
    if spec.precision != "fp32":
        extra["precision"] = spec.precision
    model = StackedMLP.from_seeds(list(spec.sizes), ["relu"], [spec.seed]).to(spec.device)
    settings = FitSettings(batch_size=spec.batch, epochs=spec.epochs)
    models = [ModelSettings(spec.seed, SGDSettings(lr=spec.lr))]
    with Timer(spec.device) as timer:
        fit(model, data, None, FitOptions("classification", settings, models, **extra))
    return timer.seconds / (steps_per_epoch(len(data[0]), spec.batch) * spec.epochs)


def bare_side(spec: Spec, data: Data) -> float | None:
    net = relu_mlp(spec)
    with tf32(spec.precision == "tf32"), Timer(spec.device) as timer:
        bare_train(net, data, spec)
    return timer.seconds / (steps_per_epoch(len(data[0]), spec.batch) * spec.epochs)


def explicit_side(spec: Spec, data: Data) -> float | None:
    if spec.precision == "bf16":  # its in-place updates would mix bf16 gradients and fp32 weights
        return None
    weights, biases = parameters(spec)
    with tf32(spec.precision == "tf32"), Timer(spec.device) as timer:
        explicit_train(weights, biases, data, spec)
    return timer.seconds / (steps_per_epoch(len(data[0]), spec.batch) * spec.epochs)


@torch.no_grad()
def explicit_graph_side(spec: Spec, data: Data) -> float | None:
    """The explicit step captured once as a CUDA graph and replayed on each full batch."""
    if not spec.device.startswith("cuda") or spec.precision == "bf16":
        return None
    weights, biases = parameters(spec)
    x_static = torch.zeros(spec.batch, spec.sizes[0], device=spec.device)
    onehot_static = torch.zeros(spec.batch, spec.sizes[-1], device=spec.device)
    onehot = F.one_hot(data[1], spec.sizes[-1]).float()

    def step() -> None:
        explicit_step(weights, biases, x_static, onehot_static, spec.lr)

    with tf32(spec.precision == "tf32"):
        side_stream = torch.cuda.Stream()  # warm-up off the default stream, as capture needs
        side_stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side_stream):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side_stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        g = torch.Generator().manual_seed(spec.seed)
        steps = 0
        with Timer(spec.device) as timer:
            for x, _, target in epoch_batches(data, spec, g, onehot):
                if len(x) == spec.batch:  # a graph replays fixed shapes: the last part is left
                    x_static.copy_(x)
                    onehot_static.copy_(target)
                    graph.replay()
                    steps += 1
    return timer.seconds / steps


def sklearn_side(spec: Spec, data: Data) -> float | None:
    """MLPClassifier with plain SGD, kept from stopping early; its own shuffling."""
    if spec.device != "cpu" or spec.precision != "fp32":
        return None
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = (t.numpy() for t in data)
    model = MLPClassifier(
        hidden_layer_sizes=spec.sizes[1:-1],
        activation="relu",
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=spec.lr,
        momentum=0.0,
        nesterovs_momentum=False,
        batch_size=spec.batch,
        alpha=0.0,
        max_iter=spec.epochs,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=spec.epochs,
        early_stopping=False,
        random_state=spec.seed,
    )
    with warnings.catch_warnings(), Timer(spec.device) as timer:
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    if model.n_iter_ != spec.epochs:
        raise RuntimeError(f"scikit-learn ran {model.n_iter_} of {spec.epochs} epochs")
    return timer.seconds / (steps_per_epoch(len(x), spec.batch) * spec.epochs)


def lightning_side(spec: Spec, data: Data) -> float | None:
    """A LightningModule around the same net; `Trainer.fit` on a shuffling DataLoader that
    holds the data on the CPU, as it usually does (Lightning moves each batch to the device)."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = relu_mlp(spec)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=spec.lr)

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # its per-fit banners
    g = torch.Generator().manual_seed(spec.seed)
    dataset = TensorDataset(*(t.cpu() for t in data))
    loader = DataLoader(dataset, batch_size=spec.batch, shuffle=True, generator=g)
    trainer = L.Trainer(
        max_epochs=spec.epochs,
        accelerator="gpu" if spec.device.startswith("cuda") else "cpu",
        precision="bf16-mixed" if spec.precision == "bf16" else "32-true",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    module = Module()
    with warnings.catch_warnings(), tf32(spec.precision == "tf32"), Timer(spec.device) as timer:
        warnings.simplefilter("ignore")  # "does not have many workers", and the like
        trainer.fit(module, loader)
    return timer.seconds / (len(loader) * spec.epochs)


def sides(device: str) -> dict[str, Side]:
    """Every side that can run on `device`, nncli first (the one the others are divided by)."""
    found: dict[str, Side] = {"nncli": nncli_side, "explicit lower bound": explicit_side}
    if device.startswith("cuda"):
        found["nncli + CUDA graphs"] = functools.partial(nncli_side, cuda_graphs=True)
        found["explicit + CUDA graph"] = explicit_graph_side
    found["bare autograd"] = bare_side
    if device == "cpu":
        found["scikit-learn"] = sklearn_side
    if importlib.util.find_spec("lightning") is not None:
        found["Lightning"] = lightning_side
    return found


def matmul_rate(batch: int, width: int, device: str, repeats: int) -> float:
    """GFLOP/s of the three products a (batch, width) x (width, width) layer's training step
    makes: forward, input gradient and weight gradient, timed together; median of `repeats`."""
    a, d, w = (
        torch.randn(*s, device=device) for s in ((batch, width), (batch, width), (width, width))
    )
    products = [lambda: a.mm(w.t()), lambda: d.mm(w), lambda: d.t().mm(a)]
    for product in products:  # warm-up
        product()
    times = []
    for _ in range(repeats):
        with Timer(device) as timer:
            for product in products:
                product()
        times.append(timer.seconds)
    return 3 * 2 * batch * width * width / statistics.median(times) / 1e9

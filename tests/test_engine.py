"""The training engine, checked against a plain PyTorch loop and against itself at K = 1.

The explicit engine (backprop.py) computes each gradient with the kernels autograd runs, but it
folds the SGD update into the gradient's matrix product (`W.addmm_(d^T, h, alpha=-lr)`), which
rounds apart from materializing the gradient first by about one float32 ulp per step; so it is
compared to the textbook loop to float32 rounding, and to itself (stop and resume) bit for bit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields, replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nncli.model.mlp import StackedMLP
from nncli.train.backprop import ExplicitStep
from nncli.train.engine import fit
from nncli.train.sgd import SGDSettings, StackedSGD
from nncli.train.state import (
    EpochReport,
    FitOptions,
    FitSettings,
    ModelRecord,
    ModelSettings,
    TrainingStopped,
)
from nncli.train.steps import AutogradStep, Step, choose_step

OPTION_FIELDS = {f.name for f in fields(FitOptions)}
ENGINES = ("explicit", "autograd")
HIDDEN = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}


@dataclass(frozen=True)
class Settings:
    """One model's whole recipe, as the reference loop takes it."""

    lr: float
    batch_size: int
    epochs: int
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False
    patience: int | None = None
    min_delta: float = 0.0

    def model(self, seed: int) -> ModelSettings:
        sgd = SGDSettings(self.lr, self.momentum, self.weight_decay, self.nesterov)
        return ModelSettings(seed, sgd, self.patience, self.min_delta)


@dataclass
class Result:
    """`fit`'s per-model records as columns (one entry per model), for terse assertions."""

    history: list
    best_epoch: list
    kept_epoch: list
    epochs_run: list
    diverged: list
    grad_norms: list

    @classmethod
    def of(cls, records: list[ModelRecord]) -> Result:
        return cls(*([getattr(r, f) for r in records] for f in cls.__dataclass_fields__))


def run_fit(stacked, train, val, *, task, settings, seeds, per_model=None, **kwargs) -> Result:
    """`fit` with every model on `settings` (or `per_model[k]`), model k seeded `seeds[k]`;
    `kwargs` are `FitOptions` fields or `fit`'s own keywords (resume, should_stop, ...)."""
    recipes = per_model or [settings] * len(seeds)
    models = [r.model(seed) for r, seed in zip(recipes, seeds, strict=True)]
    shared = FitSettings(settings.batch_size, settings.epochs)
    options = {key: kwargs.pop(key) for key in list(kwargs) if key in OPTION_FIELDS}
    options = FitOptions(task=task, settings=shared, models=models, **options)
    return Result.of(fit(stacked, train, val, options, **kwargs))


def classification_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2) features and three classes cut by two noisy lines."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    noise = 0.5 * torch.randn(n, generator=g)
    y = (x[:, 0] + noise > 0).long() + (x[:, 1] - noise > 0.5).long()
    return x, y


def regression_data(n: int, seed: int = 0, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3) features and a noisy nonlinear target multiplied by `scale`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = torch.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.1 * torch.randn(n, generator=g)
    return x, scale * y


def reference_net(sizes: list[int], activation: str, seed: int) -> nn.Sequential:
    """Stock torch.nn layers initialized right after `torch.manual_seed(seed)`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(HIDDEN[activation]())
        return nn.Sequential(*layers)


def reference_fit(
    sizes: list[int],
    activation: str,
    seed: int,
    data: tuple[torch.Tensor, torch.Tensor],
    task: str,
    s: Settings,
    on_batch=None,
) -> nn.Sequential:
    """The textbook PyTorch loop that `fit` must reproduce for one model.

    `on_batch(epoch, outputs, targets)` sees each batch's outputs before its SGD step.
    """
    x, y = data
    n = len(x)
    net = reference_net(sizes, activation, seed)
    optimizer = torch.optim.SGD(
        net.parameters(),
        lr=s.lr,
        momentum=s.momentum,
        weight_decay=s.weight_decay,
        nesterov=s.nesterov,
    )
    g = torch.Generator().manual_seed(seed)
    for epoch in range(1, s.epochs + 1):
        perm = torch.randperm(n, generator=g)
        xp, yp = x[perm], y[perm]
        for lo in range(0, n, s.batch_size):
            out = net(xp[lo : lo + s.batch_size])
            target = yp[lo : lo + s.batch_size]
            if on_batch is not None:
                on_batch(epoch, out.detach(), target)
            if task == "classification":
                loss = F.cross_entropy(out, target)
            else:
                loss = F.mse_loss(out.squeeze(-1), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net


def solo(sizes, activation, seed, train, val, task, settings, **kwargs):
    """Train one model alone (K = 1); returns (the plain module, its Result)."""
    stacked = StackedMLP.from_seeds(sizes, [activation], [seed])
    result = run_fit(stacked, train, val, task=task, settings=settings, seeds=[seed], **kwargs)
    return stacked.member(0), result


def assert_params_equal(a: nn.Module, b: nn.Module) -> None:
    for name, pa, pb in zip(
        dict(a.named_parameters()), a.parameters(), b.parameters(), strict=True
    ):
        assert torch.equal(pa, pb), f"{name}: max diff {(pa - pb).abs().max().item():.3g}"


# K > 1 runs batched kernels (baddbmm, activations on (K, B, H) tensors) whose float32 rounding
# differs from the K = 1 kernels by a few ulps on this CPU, so stacked runs are compared to solo
# runs to within float rounding; the discrete outcomes (epochs run, best epoch) must match.
def assert_params_close(a: nn.Module, b: nn.Module, tol: float = 1e-6) -> None:
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=tol, atol=tol)


def assert_history_close(a: list[dict], b: list[dict], tol: float = 1e-6) -> None:
    assert len(a) == len(b)
    for row_a, row_b in zip(a, b, strict=True):
        assert row_a.keys() == row_b.keys()
        assert row_a == pytest.approx(row_b, rel=tol, abs=tol)


# Each SGD variant takes its own path through the explicit update: fused plain SGD, fused
# momentum, and the general update (weight decay, Nesterov).
SGD_VARIANTS = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "weight_decay": 1e-3, "nesterov": True},
]


@pytest.mark.parametrize("engine", ["explicit", "autograd"])
@pytest.mark.parametrize("sgd", SGD_VARIANTS)
@pytest.mark.parametrize(
    ("task", "data", "sizes", "activation"),
    [
        ("classification", classification_data(90), [2, 8, 6, 3], "tanh"),
        ("regression", regression_data(90), [3, 8, 1], "relu"),
    ],
)
def test_single_model_matches_a_plain_pytorch_loop(task, data, sizes, activation, sgd, engine):
    # 90 rows in batches of 16: five full batches and a last one of 10.
    settings = Settings(lr=0.05, batch_size=16, epochs=4, **sgd)
    net, result = solo(sizes, activation, 7, data, None, task, settings, engine=engine)
    reference = reference_fit(sizes, activation, 7, data, task, settings)
    assert_params_close(net, reference, tol=1e-5)
    assert result.epochs_run == [4]
    assert result.diverged == [None]


def test_batch_size_larger_than_the_data_is_one_full_batch():
    data = regression_data(20)
    big = Settings(lr=0.1, batch_size=500, epochs=3)
    net, _ = solo([3, 4, 1], "tanh", 1, data, None, "regression", big)
    exact = Settings(lr=0.1, batch_size=20, epochs=3)
    exact_net, _ = solo([3, 4, 1], "tanh", 1, data, None, "regression", exact)
    assert_params_equal(net, exact_net)


STACK_ACTIVATIONS = ["relu", "relu", "tanh", "tanh", "sigmoid", "sigmoid"]
STACK_SEEDS = [1, 2, 1, 2, 1, 2]


@pytest.mark.parametrize(
    ("task", "train", "val", "sizes"),
    [
        ("classification", classification_data(100), classification_data(40, seed=1), [2, 6, 3]),
        ("regression", regression_data(100), regression_data(40, seed=1), [3, 5, 4, 1]),
    ],
)
def test_stacked_models_train_as_they_would_alone(task, train, val, sizes):
    settings = Settings(lr=0.05, batch_size=16, epochs=4, momentum=0.9, nesterov=True)
    stacked = StackedMLP.from_seeds(sizes, STACK_ACTIVATIONS, STACK_SEEDS)
    result = run_fit(stacked, train, val, task=task, settings=settings, seeds=STACK_SEEDS)
    for k, (activation, seed) in enumerate(zip(STACK_ACTIVATIONS, STACK_SEEDS, strict=True)):
        alone, alone_result = solo(sizes, activation, seed, train, val, task, settings)
        assert_params_close(stacked.member(k), alone)
        assert_history_close(result.history[k], alone_result.history[0])
        assert result.best_epoch[k] == alone_result.best_epoch[0]


SIZES_ES = [2, 32, 3]


def overfitting_setup():
    """Few noisy rows and a wide layer, so validation loss turns up within a few epochs."""
    train = classification_data(30, seed=3)
    val = classification_data(100, seed=4)
    settings = Settings(lr=0.1, batch_size=8, epochs=60, momentum=0.9, patience=2)
    return train, val, settings


def test_early_stopping_stops_after_patience_epochs_and_keeps_the_best_weights():
    train, val, settings = overfitting_setup()
    net, result = solo(SIZES_ES, "relu", 0, train, val, "classification", settings)
    best, run = result.best_epoch[0], result.epochs_run[0]
    assert run < settings.epochs, "the setup should overfit; pick another seed"
    assert run == best + settings.patience
    assert result.kept_epoch == [best]
    val_losses = [row["val_loss"] for row in result.history[0]]
    assert len(val_losses) == run
    assert min(val_losses) == val_losses[best - 1]
    assert all(loss >= val_losses[best - 1] for loss in val_losses[best:])

    no_stopping = replace(settings, epochs=best, patience=None)
    at_best, at_best_result = solo(SIZES_ES, "relu", 0, train, val, "classification", no_stopping)
    assert_params_equal(net, at_best)
    assert at_best_result.history[0] == result.history[0][:best]


def test_min_delta_counts_small_improvements_as_none():
    train, val, settings = overfitting_setup()
    strict = replace(settings, min_delta=10.0)  # nothing beats epoch 1 by 10
    _, result = solo(SIZES_ES, "relu", 0, train, val, "classification", strict)
    assert result.best_epoch == [1]
    assert result.epochs_run == [1 + settings.patience]


def test_without_validation_patience_is_ignored_and_best_epoch_uses_train_loss():
    train, _, settings = overfitting_setup()
    settings = replace(settings, epochs=6)
    _, result = solo(SIZES_ES, "relu", 0, train, None, "classification", settings)
    assert result.epochs_run == [6]
    assert result.kept_epoch == [6]
    losses = [row["train_loss"] for row in result.history[0]]
    assert result.best_epoch == [losses.index(min(losses)) + 1]


def test_each_stacked_model_stops_on_its_own_and_matches_its_solo_run():
    train, val, settings = overfitting_setup()
    sizes = SIZES_ES
    activations, seeds = ["relu", "relu", "tanh", "tanh"], [0, 1, 0, 1]
    stacked = StackedMLP.from_seeds(sizes, activations, seeds)
    result = run_fit(stacked, train, val, task="classification", settings=settings, seeds=seeds)
    assert len(set(result.epochs_run)) > 1, result.epochs_run
    assert all(run < settings.epochs for run in result.epochs_run)
    for k, (activation, seed) in enumerate(zip(activations, seeds, strict=True)):
        alone, alone_result = solo(sizes, activation, seed, train, val, "classification", settings)
        assert result.epochs_run[k] == alone_result.epochs_run[0]
        assert result.best_epoch[k] == alone_result.best_epoch[0]
        assert result.kept_epoch[k] == result.best_epoch[k]
        # Over several epochs the few-ulp differences of the batched kernels grow, hence 1e-4.
        assert_history_close(result.history[k], alone_result.history[0], tol=1e-4)
        assert_params_close(stacked.member(k), alone, tol=1e-4)


def diverging_setup():
    """Unscaled targets in the thousands and a huge step: the loss overflows within an epoch."""
    train = regression_data(50, scale=1000.0)
    settings = Settings(lr=1e6, batch_size=16, epochs=5)
    return train, settings


def first_non_finite_step(sizes, activation, seed, data, s: Settings) -> tuple[int, int]:
    """(epoch, 1-based step) where a plain loop first sees a non-finite loss."""
    x, y = data
    n = len(x)
    net = reference_net(sizes, activation, seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=s.lr)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(1, s.epochs + 1):
        perm = torch.randperm(n, generator=g)
        for step, lo in enumerate(range(0, n, s.batch_size), start=1):
            batch = perm[lo : lo + s.batch_size]
            loss = F.mse_loss(net(x[batch]).squeeze(-1), y[batch])
            if not math.isfinite(loss.item()):
                return epoch, step
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            if not math.isfinite(F.mse_loss(net(x).squeeze(-1), y).item()):
                return epoch, -(-n // s.batch_size)
    raise AssertionError("the reference loop did not diverge")


def test_divergence_is_reported_with_its_epoch_and_step():
    train, settings = diverging_setup()
    _, result = solo([3, 8, 1], "relu", 0, train, None, "regression", settings)
    assert result.diverged[0] is not None
    epoch, step = result.diverged[0]
    assert isinstance(epoch, int) and isinstance(step, int)
    assert 1 <= epoch <= settings.epochs
    assert 1 <= step <= -(-len(train[0]) // settings.batch_size)
    assert (epoch, step) == first_non_finite_step([3, 8, 1], "relu", 0, train, settings)
    assert result.epochs_run == [epoch]
    assert len(result.history[0]) == epoch


def test_a_diverging_model_does_not_disturb_the_others_in_its_stack():
    # With the same step size, an identity network on inputs scaled up by 30 diverges, while
    # bounded step/sigmoid hidden units keep the other models' losses finite.
    (x, y), (x_val, y_val) = regression_data(60), regression_data(20, seed=1)
    train, val = (30.0 * x, y), (30.0 * x_val, y_val)
    settings = Settings(lr=0.02, batch_size=16, epochs=4)
    sizes = [3, 6, 1]
    activations, seeds = ["identity", "sigmoid", "step"], [0, 0, 0]
    stacked = StackedMLP.from_seeds(sizes, activations, seeds)
    result = run_fit(stacked, train, val, task="regression", settings=settings, seeds=seeds)
    assert result.diverged[0] is not None
    assert result.diverged[1:] == [None, None]
    for k in (1, 2):
        alone, alone_result = solo(sizes, activations[k], 0, train, val, "regression", settings)
        assert alone_result.diverged == [None]
        assert result.epochs_run[k] == settings.epochs
        assert_history_close(result.history[k], alone_result.history[0])
        assert_params_close(stacked.member(k), alone)
    _, diverged_alone = solo(sizes, "identity", 0, train, val, "regression", settings)
    assert diverged_alone.diverged == result.diverged[:1]


@pytest.mark.parametrize(
    ("task", "data", "metric"),
    [
        ("classification", classification_data(60), "accuracy"),
        ("regression", regression_data(60), "mse"),
    ],
)
@pytest.mark.parametrize("with_val", [True, False])
def test_history_has_one_row_per_epoch_and_the_callback_runs_each_epoch(
    task, data, metric, with_val
):
    val = (data[0][:20], data[1][:20]) if with_val else None
    sizes = [data[0].shape[1], 5, 3 if task == "classification" else 1]
    reports: list[EpochReport] = []
    settings = Settings(lr=0.05, batch_size=16, epochs=3)
    _, result = solo(sizes, "tanh", 4, data, val, task, settings, on_epoch=reports.append)

    keys = {"epoch", "train_loss", f"train_{metric}"}
    if with_val:
        keys |= {"val_loss", f"val_{metric}"}
    assert [set(row) for row in result.history[0]] == [keys] * 3
    assert [row["epoch"] for row in result.history[0]] == [1, 2, 3]
    assert [r.epoch for r in reports] == [1, 2, 3]
    assert all(r.epochs == 3 and r.metric == metric and r.active == [True] for r in reports)
    assert [r.train_loss[0] for r in reports] == [row["train_loss"] for row in result.history[0]]
    assert (reports[0].val_loss is None) == (not with_val)

    # Training loss and metric are those of each batch as it was trained (as Keras reports
    # them): recompute them from the plain loop's outputs in its last epoch.
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    reference_fit(
        sizes,
        "tanh",
        4,
        data,
        task,
        settings,
        lambda e, o, t: seen.append((o, t)) if e == 3 else None,
    )
    out = torch.cat([o for o, _ in seen])
    data = (None, torch.cat([t for _, t in seen]))
    last = result.history[0][-1]
    if task == "classification":
        assert last["train_loss"] == pytest.approx(F.cross_entropy(out, data[1]).item(), rel=1e-6)
        accuracy = (out.argmax(dim=1) == data[1]).double().mean().item()
        assert last["train_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    else:
        mse = F.mse_loss(out.squeeze(-1), data[1]).item()
        assert last["train_loss"] == pytest.approx(mse, rel=1e-6)
        assert last["train_mse"] == pytest.approx(mse, rel=1e-6)


def test_regression_metric_is_reported_in_the_targets_original_units():
    data = regression_data(40)
    settings = Settings(lr=0.05, batch_size=16, epochs=2)
    _, result = solo([3, 4, 1], "tanh", 0, data, None, "regression", settings, target_scale=3.0)
    for row in result.history[0]:
        assert row["train_mse"] == pytest.approx(9.0 * row["train_loss"], rel=1e-9)


def test_step_hidden_layer_gets_no_gradient_so_only_the_output_layer_learns():
    data = classification_data(60)
    before = StackedMLP.from_seeds([2, 6, 3], ["step"], [5]).member(0)
    settings = Settings(lr=0.5, batch_size=16, epochs=3, momentum=0.9)
    after, result = solo([2, 6, 3], "step", 5, data, None, "classification", settings)
    assert torch.equal(after[0].weight, before[0].weight)
    assert torch.equal(after[0].bias, before[0].bias)
    assert not torch.equal(after[2].weight, before[2].weight)
    assert not torch.equal(after[2].bias, before[2].bias)
    assert result.diverged == [None]


def test_same_seed_gives_identical_weights():
    data = classification_data(50)
    settings = Settings(lr=0.1, batch_size=8, epochs=3, momentum=0.5)
    a, ra = solo([2, 5, 3], "relu", 9, data, None, "classification", settings)
    b, rb = solo([2, 5, 3], "relu", 9, data, None, "classification", settings)
    assert_params_equal(a, b)
    assert ra.history == rb.history
    c, _ = solo([2, 5, 3], "relu", 10, data, None, "classification", settings)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_each_model_of_a_stack_trains_with_its_own_sgd_settings_as_it_would_alone():
    train, val = classification_data(80), classification_data(30, seed=1)
    base = Settings(lr=0.05, batch_size=16, epochs=5)
    recipes = [
        base,
        replace(base, lr=0.2),
        replace(base, momentum=0.9),
        replace(base, momentum=0.5, nesterov=True),
        replace(base, weight_decay=0.01, lr=0.1),
        replace(base, patience=1, momentum=0.9, lr=0.5),
    ]
    seeds = [3] * len(recipes)
    stacked = StackedMLP.from_seeds([2, 8, 3], ["tanh"] * len(recipes), seeds)
    result = run_fit(stacked, train, val, task="classification", settings=base, seeds=seeds,
                     per_model=recipes)  # fmt: skip
    for k, recipe in enumerate(recipes):
        reference = reference_fit([2, 8, 3], "tanh", 3, train, "classification", recipe)
        alone, alone_result = solo([2, 8, 3], "tanh", 3, train, val, "classification", recipe)
        assert result.epochs_run[k] == alone_result.epochs_run[0]
        assert_history_close(result.history[k], alone_result.history[0], tol=1e-5)
        assert_params_close(stacked.member(k), alone, tol=1e-5)
        if recipe.patience is None:  # early stopping restores earlier weights than the loop's
            assert_params_close(alone, reference, tol=1e-5)
    assert result.epochs_run[-1] < base.epochs  # the early-stopping model stopped on its own


def stop_after(calls: int):
    """A should_stop that says yes on its `calls`-th question (one question per step)."""
    asked = iter(range(1, 10**9))
    return lambda: next(asked) >= calls


@pytest.mark.parametrize("stop_at", [1, 5, 8, 13, 30])
@pytest.mark.parametrize("activations", [["tanh"], ["relu", "tanh", "sigmoid"]])
def test_stopping_and_resuming_ends_bit_for_bit_where_an_uninterrupted_run_ends(
    stop_at, activations
):
    data, val = classification_data(60), classification_data(20, seed=1)
    seeds = list(range(len(activations)))
    settings = Settings(lr=0.1, batch_size=16, epochs=8, momentum=0.9, patience=3)
    sizes = [2, 5, 3]

    whole = StackedMLP.from_seeds(sizes, activations, seeds)
    expected = run_fit(whole, data, val, task="classification", settings=settings, seeds=seeds,
                       probe_gradients=True)  # fmt: skip

    first = StackedMLP.from_seeds(sizes, activations, seeds)
    with pytest.raises(TrainingStopped) as stopped:
        run_fit(first, data, val, task="classification", settings=settings, seeds=seeds,
                probe_gradients=True, should_stop=stop_after(stop_at))  # fmt: skip
    # Resume in a fresh model that only gets the saved parameters, as after a restart.
    second = StackedMLP(sizes, activations)
    with torch.no_grad():
        for mine, saved in zip(second.parameters(), first.parameters(), strict=True):
            mine.copy_(saved)
    resumed = run_fit(second, data, val, task="classification", settings=settings, seeds=seeds,
                      probe_gradients=True, resume=stopped.value.state)  # fmt: skip
    for a, b in zip(whole.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert resumed.history == expected.history
    assert resumed.grad_norms == expected.grad_norms
    assert (resumed.best_epoch, resumed.kept_epoch) == (expected.best_epoch, expected.kept_epoch)


def test_the_explicit_engine_runs_unless_bf16_asks_for_autocast():
    model = StackedMLP.from_seeds([2, 4, 3], ["relu"], [0])
    optimizer = StackedSGD(list(model.parameters()), [SGDSettings(0.1)])
    assert isinstance(choose_step(model, optimizer, "classification", None), ExplicitStep)
    bf16 = choose_step(model, optimizer, "classification", None, precision="bf16")
    assert isinstance(bf16, AutogradStep) and bf16.autocast_dtype == torch.bfloat16
    with pytest.raises(ValueError, match="explicit engine"):
        choose_step(model, optimizer, "classification", None, "explicit", "bf16")


def test_every_engine_is_a_step():
    from nncli.train.graphs import GraphedStep

    model = StackedMLP.from_seeds([2, 4, 3], ["relu"], [0])
    optimizer = StackedSGD(list(model.parameters()), [SGDSettings(0.1)])
    steps = [choose_step(model, optimizer, "classification", None, e) for e in ENGINES]
    steps.append(GraphedStep(steps[0], torch.Size([8, 2])))
    assert all(isinstance(step, Step) for step in steps)


def test_bf16_trains_with_float32_weights_close_to_fp32():
    data = classification_data(90)
    settings = Settings(lr=0.1, batch_size=16, epochs=5, momentum=0.9)
    fp32, fp32_result = solo([2, 8, 3], "tanh", 4, data, None, "classification", settings)
    bf16, bf16_result = solo(
        [2, 8, 3], "tanh", 4, data, None, "classification", settings, precision="bf16"
    )
    assert all(p.dtype == torch.float32 for p in bf16.parameters())
    # bfloat16 keeps 8 bits of mantissa: the runs part, but not by much after five epochs.
    assert_params_close(bf16, fp32, tol=0.05)
    assert bf16_result.history[0][-1]["train_loss"] == pytest.approx(
        fp32_result.history[0][-1]["train_loss"], rel=0.05
    )

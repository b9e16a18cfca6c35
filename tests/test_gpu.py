"""On a CUDA device the same grid trains to the CPU's results (skipped where there is none)."""

from __future__ import annotations

import math

import pytest
import torch

from nncli.config.loading import validate_config
from nncli.data.prepared import prepare_data
from nncli.errors import UsageError
from nncli.train.stack import train_stack

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def configs(device: str) -> list:
    base = {
        "data": {"source": "moons", "n_samples": 400},
        "model": {"depth": 2, "width": 16},
        "training": {"batch_size": 32, "epochs": 10, "device": device},
    }
    grid = [("relu", 0.1, 0.0), ("relu", 0.05, 0.9), ("tanh", 0.2, 0.5), ("sigmoid", 0.5, 0.0)]
    return [
        validate_config(base | {"seed": seed, "model": base["model"] | {"activation": a},
                                "training": base["training"] | {"lr": lr, "momentum": m}})
        for a, lr, m in grid
        for seed in (0, 1)
    ]  # fmt: skip


@pytest.mark.parametrize("stacked", [True, False])
def test_a_mixed_stack_on_cuda_matches_the_cpu(stacked):
    cpu_configs, cuda_configs = configs("cpu"), configs("cuda")
    prepared = prepare_data(cpu_configs[0].data)
    if stacked:
        on_cpu = train_stack(cpu_configs, prepared)
        on_cuda = train_stack(cuda_configs, prepared)
    else:
        on_cpu = [train_stack([c], prepared)[0] for c in cpu_configs]
        on_cuda = [train_stack([c], prepared)[0] for c in cuda_configs]
    for a, b in zip(on_cpu, on_cuda, strict=True):
        assert a.record.epochs_run == b.record.epochs_run
        assert math.isclose(a.losses["test"], b.losses["test"], rel_tol=1e-3, abs_tol=1e-4)
        assert abs(a.metrics["test"]["accuracy"] - b.metrics["test"]["accuracy"]) <= 0.02


def test_stopping_mid_epoch_on_cuda_resumes_bit_for_bit():
    from nncli.model.mlp import StackedMLP
    from nncli.train.engine import fit
    from nncli.train.sgd import SGDSettings
    from nncli.train.state import FitOptions, FitSettings, ModelSettings, TrainingStopped

    prepared = prepare_data(configs("cpu")[0].data)
    cuda = torch.device("cuda")
    train, val = prepared.tensors("train", cuda), prepared.tensors("val", cuda)
    models = [ModelSettings(s, SGDSettings(0.1, momentum=0.9)) for s in (0, 1, 2)]
    options = FitOptions("classification", FitSettings(32, 3), models)

    def fresh() -> StackedMLP:
        return StackedMLP.from_seeds([2, 8, 2], ["relu", "tanh", "relu"], [0, 1, 2]).to(cuda)

    whole = fresh()
    expected = fit(whole, train, val, options)
    first = fresh()
    asked = iter(range(10**6))
    with pytest.raises(TrainingStopped) as stopped:
        fit(first, train, val, options, should_stop=lambda: next(asked) >= 12)  # mid-epoch 2
    state = stopped.value.state
    # As after a restart: the state and the parameters come back from the CPU.
    state.order, state.outputs = state.order.cpu(), state.outputs.cpu()
    second = fresh()
    with torch.no_grad():
        for mine, saved in zip(second.parameters(), stopped.value.params, strict=True):
            mine.copy_(saved.cpu())
    resumed = fit(second, train, val, options, resume=state)
    assert [r.history for r in resumed] == [r.history for r in expected]
    for a, b in zip(whole.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_auto_and_cuda_n_train_on_the_gpu_and_say_so(tiny_moons, tmp_path):
    import json

    from nncli.app.commands import run_train
    from nncli.grid.session import Session

    shown: list[str] = []
    summary = run_train(
        tiny_moons,
        ["training.device=auto"],
        out=tmp_path / "auto",
        session=Session(on_setup=lambda setup: shown.append(setup.text)),
    ).to_json()
    assert summary["device"] == "cuda:0"
    assert json.loads((tmp_path / "auto/run.json").read_text())["device"] == "cuda:0"
    assert f"; on cuda:0 ({torch.cuda.get_device_name(0)})" in shown[0]
    explicit = run_train(tiny_moons, ["training.device=cuda:0"], out=tmp_path / "cuda0").to_json()
    assert explicit["device"] == "cuda:0"
    count = torch.cuda.device_count()
    with pytest.raises(UsageError, match=f"cuda:{count} requested but this machine has {count}"):
        run_train(tiny_moons, [f"training.device=cuda:{count}"], out=tmp_path / "none")


def cuda_fit(**options):
    """Three stacked models trained on cuda for four epochs; their records and parameters."""
    from nncli.model.mlp import StackedMLP
    from nncli.train.engine import fit
    from nncli.train.sgd import SGDSettings
    from nncli.train.state import FitOptions, FitSettings, ModelSettings

    prepared = prepare_data(configs("cpu")[0].data)
    cuda = torch.device("cuda")
    model = StackedMLP.from_seeds([2, 16, 16, 2], ["relu", "tanh", "tanh"], [0, 1, 2]).to(cuda)
    models = [ModelSettings(s, SGDSettings(0.1, momentum=0.9)) for s in (0, 1, 2)]
    settings = FitOptions("classification", FitSettings(32, 4), models, **options)
    records = fit(model, prepared.tensors("train", cuda), prepared.tensors("val", cuda), settings)
    return records, [p.detach().cpu() for p in model.parameters()]


@pytest.mark.parametrize(
    "options", [{"engine": "autograd"}, {"cuda_graphs": True}, {"precision": "tf32"}]
)
def test_explicit_steps_on_cuda_match_autograd_graphs_and_tf32(options):
    _, eager = cuda_fit()
    _, other = cuda_fit(**options)
    tol = 1e-2 if options.get("precision") == "tf32" else 1e-5
    for a, b in zip(eager, other, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_bf16_on_cuda_keeps_float32_weights_and_trains():
    records, params = cuda_fit(precision="bf16")
    assert all(p.dtype == torch.float32 for p in params)
    assert all(r.history[-1]["train_loss"] < r.history[0]["train_loss"] for r in records)


def test_a_training_step_never_waits_for_the_gpu():
    from nncli.model.mlp import StackedMLP
    from nncli.train.backprop import ExplicitStep
    from nncli.train.graphs import GraphedStep
    from nncli.train.sgd import SGDSettings, StackedSGD

    cuda = torch.device("cuda")
    model = StackedMLP.from_seeds([4, 32, 32, 3], ["relu", "gelu"], [0, 1]).to(cuda)
    optimizer = StackedSGD(list(model.parameters()), [SGDSettings(0.1, momentum=0.9)] * 2)
    step = ExplicitStep(model, optimizer, "classification")
    graphed = GraphedStep(step, torch.Size([2, 64, 4]))
    x = torch.randn(2, 64, 4, device=cuda)
    y = step.targets(torch.randint(0, 3, (2, 64), device=cuda))
    for _ in range(5):  # three warm-up steps, then the capture (which synchronizes, once)
        graphed(x, y)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host synchronization now raises
    try:
        for _ in range(8):
            step(x, y)
            graphed(x, y)  # replays
    finally:
        torch.cuda.set_sync_debug_mode("default")

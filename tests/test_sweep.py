"""nncli sweep: every model equal to train's, the files, divergence, and resuming."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from nncli.app.commands import run_sweep, run_train
from nncli.cli import app
from nncli.errors import Interrupted, RunFailedError, UsageError
from nncli.grid.session import Session
from nncli.grid.spec import build_grid
from nncli.interrupts import StopRequest
from nncli.metrics import DETAILS
from nncli.runs.checkpoint import load_checkpoint

runner = CliRunner()


def assert_close(a: float | None, b: float | None, rel: float = 1e-4) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-9), (a, b)


@pytest.mark.usefixtures("unrendered_plots")  # figures of up to 17 runs, rendered elsewhere
@pytest.mark.parametrize(
    "vary",
    [
        ["training.lr=0.3,0.05", "training.momentum=0,0.9", "model.activation=relu,sigmoid"],
        ["model.width=3,7", "training.lr=0.2,0.05"],
    ],
    ids=["one stack", "two widths"],
)
def test_every_sweep_model_is_the_model_nncli_train_builds(grid_config, tmp_path, vary):
    result = run_sweep(grid_config, [], vary=vary, n_seeds=2, out=tmp_path / "sweep").to_json()
    grid = build_grid(grid_config, [], vary, 2)
    rows = {(json.dumps(r["values"]), s): (r, i) for r in result["results"]
            for i, s in enumerate(r["seeds"])}  # fmt: skip
    for model in grid.models:
        values = grid.values[model.variant]
        overrides = [f"{k}={v}" for k, v in values.items()] + [f"seed={model.seed}"]
        trained = run_train(grid_config, overrides, out=tmp_path / grid.label(model)).to_json()
        record, i = rows[(json.dumps(values), model.seed)]
        for name, value in trained["metrics"]["test"].items():
            if name not in DETAILS:
                assert_close(record["metrics"]["test"][name]["values"][i], value)
        swept, _ = load_checkpoint(tmp_path / "sweep/models" / f"{grid.label(model)}.safetensors")
        alone, _ = load_checkpoint(tmp_path / grid.label(model) / "model.safetensors")
        for a, b in zip(swept.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_json_files_and_plots_of_a_sweep(grid_config, tmp_path):
    out = tmp_path / "lr"
    args = ["sweep", str(grid_config), "--vary", "training.lr=1,0.1,0.01", "--seeds", "2"]
    result = runner.invoke(app, [*args, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["out_dir"] == str(out) and report["varied"] == ["training.lr"]
    assert [r["values"] for r in report["results"]] == [
        {"training.lr": 1.0},
        {"training.lr": 0.1},
        {"training.lr": 0.01},
    ]
    for record in report["results"]:
        assert record["seeds"] == [4, 5] and record["diverged"] == 0
        stats = record["metrics"]["test"]["accuracy"]
        assert len(stats["values"]) == 2
        assert stats["mean"] == pytest.approx(sum(stats["values"]) / 2)
        assert set(record["best_epoch"]) == {"mean", "std", "values"}
    assert json.loads((out / "summary.json").read_text()) == report
    (stack,) = report["stacks"]  # the lr values train in one pass
    assert stack["values"] == {} and stack["models"] == 6  # no lr of its own
    assert stack["seconds"] > 0
    assert (out / "summary.csv").read_text().splitlines()[0].startswith("training.lr,seeds,")
    models = (out / "models.csv").read_text().splitlines()
    assert len(models) == 7 and models[0].startswith("training.lr,seed,file,")
    names = sorted(p.name for p in (out / "history").iterdir())
    assert names[:2] == ["lr=0.01-seed4.csv", "lr=0.01-seed5.csv"] and len(names) == 6
    _, card = load_checkpoint(out / "models/lr=0.1-seed5.safetensors")
    assert card.config["training"]["lr"] == 0.1 and card.config["seed"] == 5
    evaluated = runner.invoke(app, ["evaluate", str(out / "models/lr=0.1-seed5.safetensors"),
                                    "--json"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    record = report["results"][1]
    assert json.loads(evaluated.stdout)["metrics"]["accuracy"] == pytest.approx(
        record["metrics"]["test"]["accuracy"]["values"][1]
    )
    for name in ("loss_curves.png", "metric_by_value.png", "decision_boundaries.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    assert not (out / "partial").exists() and not (out / "last.safetensors").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "finished"

    table = runner.invoke(app, [*args, "--out", str(tmp_path / "t")])
    assert table.exit_code == 0, table.output
    assert "Sweep (mean ± std over seeds)" in table.stdout and "0.01" in table.stdout
    assert "3 variants x 2 seeds (4, 5) = 6 models" in table.stdout


def test_diagnostics_on_request(grid_config, tmp_path):
    result = run_sweep(grid_config, [], vary=["model.activation=sigmoid,step"], diagnostics=True,
                       out=tmp_path / "d").to_json()  # fmt: skip
    sigmoid, step = result["results"]
    assert len(sigmoid["grad_norms"]) == 3 and all(g > 0 for g in sigmoid["grad_norms"])
    assert step["frozen_layers"] == [0, 1]
    assert (tmp_path / "d/grad_norms.png").exists()
    plain = run_sweep(
        grid_config, [], vary=["model.activation=sigmoid,step"], out=tmp_path / "p"
    ).to_json()
    assert "grad_norms" not in plain["results"][0]


def test_diagnostics_of_a_depth_sweep_give_each_depth_its_layers(grid_config, tmp_path):
    result = run_sweep(grid_config, [], vary=["model.depth=1,3"], diagnostics=True,
                       out=tmp_path / "d").to_json()  # fmt: skip
    assert [len(r["grad_norms"]) for r in result["results"]] == [2, 4]
    header, shallow, deep = (tmp_path / "d/summary.csv").read_text().splitlines()
    layer4 = header.split(",").index("grad_norm_layer4")
    assert shallow.split(",")[layer4] == "" and deep.split(",")[layer4] != ""
    assert (tmp_path / "d/grad_ratio_by_value.png").read_bytes()[:4] == b"\x89PNG"


def test_a_diverging_variant_is_reported_and_the_others_finish(grid_config, tmp_path):
    regression = ["data.source=sine", "data.scale_target=false"]
    result = run_sweep(
        grid_config, regression, vary=["training.lr=10,0.05"], out=tmp_path / "d"
    ).to_json()
    diverged, fine = result["results"]
    assert diverged["diverged"] == 1 and diverged["metrics"]["test"]["mse"]["mean"] is None
    (where,) = diverged["diverged_at"]
    assert where["seed"] == 4 and where["epoch"] >= 1 and where["step"] >= 1
    assert fine["diverged"] == 0 and fine["metrics"]["test"]["mse"]["mean"] < 1
    assert diverged["best_epoch"]["values"] == [None] and diverged["best_epoch"]["mean"] is None
    assert "Infinity" not in (tmp_path / "d/summary.json").read_text()
    assert (tmp_path / "d/fits.png").read_bytes()[:4] == b"\x89PNG"  # 1-D: each variant's fit


@pytest.mark.parametrize("lr", ["10,100", "1e4,1e5"])  # late, and in the very first epoch
def test_when_every_variant_diverges_the_sweep_fails_with_its_results_written(
    grid_config, tmp_path, lr
):
    regression = ["data.source=sine", "data.scale_target=false"]
    with pytest.raises(RunFailedError, match="every variant diverged on every seed"):
        run_sweep(grid_config, regression, vary=[f"training.lr={lr}"], out=tmp_path / "x")
    assert json.loads((tmp_path / "x/run.json").read_text())["status"] == "failed"
    assert (tmp_path / "x/loss_curves.png").exists() and (tmp_path / "x/summary.json").exists()


class StopAfter(StopRequest):
    """A SIGTERM that arrives before training step number `steps` (1-based), counted over
    every stack of a grid."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps, self.asked = steps, 0

    def __call__(self) -> bool:
        self.asked += 1
        if self.asked >= self.steps:
            self.signum = signal.SIGTERM
        return super().__call__()


RESUMED = {"vary": ["model.width=3,5", "training.lr=0.2,0.05"], "n_seeds": 2}


@pytest.fixture(scope="module")
def whole_sweep(module_grid_config, tmp_path_factory) -> tuple[Path, dict]:
    """The sweep that interrupted ones, resumed, must equal: its folder and summary."""
    out = tmp_path_factory.mktemp("whole") / "whole"
    return out, run_sweep(module_grid_config, [], out=out, **RESUMED).to_json()


# Each stack takes 24 steps: stop inside the first, before the second, inside the second.
@pytest.mark.parametrize("stop_at", [3, 25, 30])
def test_an_interrupted_sweep_resumes_to_the_same_results(
    module_grid_config, whole_sweep, tmp_path, stop_at
):
    whole_dir, whole = whole_sweep
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted) as info:
        run_sweep(
            module_grid_config,
            [],
            out=cut,
            session=Session(should_stop=StopAfter(stop_at)),
            **RESUMED,
        )
    assert info.value.exit_code == 143
    assert f"resume with: nncli sweep --resume {cut}" in str(info.value)
    status = json.loads((cut / "run.json").read_text())
    assert status["status"] == "interrupted" and status["resumable"] is True
    resumed = run_sweep(None, [], resume=cut).to_json()
    assert resumed["results"] == whole["results"]
    # The stack it stopped in took an unknown time; a finished one's was saved with it.
    assert [s["seconds"] is None for s in resumed["stacks"]].count(True) == 1
    for name in ("summary.csv", "models.csv"):
        assert (cut / name).read_text() == (whole_dir / name).read_text()
    for path in (whole_dir / "models").iterdir():
        a, _ = load_checkpoint(path)
        b, _ = load_checkpoint(cut / "models" / path.name)
        for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(pa, pb)
    assert json.loads((cut / "run.json").read_text())["status"] == "finished"


@pytest.mark.parametrize(
    "options",
    [{"vary": ["training.lr=0.1"]}, {"n_seeds": 5}, {"diagnostics": True}, {"sequential": True}],
)
def test_resume_takes_only_the_folder(grid_config, tmp_path, options):
    with pytest.raises(UsageError, match="--resume takes only the run folder"):
        run_sweep(None, [], resume=tmp_path, **options)


def test_a_sweep_over_data_sources_resumes_from_anywhere(grid_config, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    for name, shift in (("a.csv", 0.0), ("b.csv", 0.5)):
        rows = "".join(f"{i / 10 + shift},{(i * 7) % 3}\n" for i in range(60))
        (work / name).write_text("x,label\n" + rows)
    monkeypatch.chdir(work)
    setup = ["data.target=label", "data.n_samples=null", "data.noise=null"]
    vary = ["data.source=a.csv,b.csv,moons"]
    with pytest.raises(UsageError, match=r"data\.target: applies to CSV files only"):
        run_sweep(grid_config, setup, vary=vary, out=tmp_path / "bad")  # moons has no target column
    vary = ["data.source=a.csv,b.csv"]
    whole = run_sweep(grid_config, setup, vary=vary, out=tmp_path / "whole").to_json()
    with pytest.raises(Interrupted):
        run_sweep(
            grid_config,
            setup,
            vary=vary,
            out=tmp_path / "cut",
            session=Session(should_stop=StopAfter(15)),
        )
    monkeypatch.chdir(tmp_path)  # elsewhere: the relative paths were kept absolute
    assert run_sweep(None, [], resume=tmp_path / "cut").to_json()["results"] == whole["results"]

"""Commands that print a config, report a config or usage error, or read what runs left never
import torch or pandas: each is run as a real process, which says at exit what it imported."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pandas", "optuna")  # optuna: the `optuna` extra, imported by `tune` once valid
# What each command that needs neither also leaves unimported (issue 20: as fast as its work).
LIGHT = {"config": ("numpy",), "runs": ("numpy",), "report": ("numpy",), "datasets": ("numpy",)}
# onnx and onnxruntime: the `onnx` extra, which only `nncli export` imports.
EXTRA = ("onnx", "onnxruntime")
TRACKING = ("tensorboard", "mlflow")  # imported only with tracking on (mlflow by its worker)
WATCHED = (*HEAVY, "numpy", "matplotlib", "sklearn", "scipy", *EXTRA, *TRACKING)

# The CLI as `nncli` runs it; at exit (however it exits) one line says which heavy modules loaded.
PROGRAM = f"""
import sys
try:
    from nncli.cli import main
    sys.argv = ["nncli", *sys.argv[1:]]
    main()
finally:
    print("heavy:", [m for m in {WATCHED!r} if m in sys.modules], file=sys.stderr)
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A malformed YAML, an invalid config, and a runs folder holding one finished run."""
    (tmp_path / "malformed.yaml").write_text("name: bad\nmodel: [\n")
    (tmp_path / "invalid.yaml").write_text(
        "data: {source: moons}\ntraining: {lr: -1}\nmodel: {activation: nope}\n"
    )
    run = tmp_path / "runs" / "moons-1"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text((ROOT / "configs/moons.yaml").read_text())
    (run / "run.json").write_text(json.dumps({"kind": "train", "status": "finished"}))
    (run / "metrics.json").write_text(json.dumps({"task": "classification", "metrics": {}}))
    return tmp_path


CASES = {
    "config": (["config", "{root}/configs/moons.yaml"], 0),
    "config of a malformed YAML": (["config", "{tmp}/malformed.yaml"], 2),
    "train a malformed YAML": (["train", "{tmp}/malformed.yaml"], 2),
    "train an invalid config": (["train", "{tmp}/invalid.yaml"], 2),
    "train a bad --set": (["train", "{root}/configs/moons.yaml", "-s", "training.lr=-1"], 2),
    "train without a config": (["train"], 2),
    "resume with options": (["train", "--resume", "{tmp}/runs/moons-1", "-s", "seed=1"], 2),
    "sweep without --vary": (["sweep", "{root}/configs/moons.yaml"], 2),
    "compare an invalid config": (["compare-activations", "{tmp}/invalid.yaml"], 2),
    "tune a bad --search": (
        ["tune", "{root}/configs/moons.yaml", "--search", "model.activation=choice(relu,foo)"],
        2,
    ),
    "--help": (["--help"], 0),
    "train --help": (["train", "--help"], 0),
    "export --help": (["export", "--help"], 0),
    "export an unknown format": (["export", "{tmp}/runs/moons-1", "--format", "pt"], 2),
    "runs": (["runs", "{tmp}/runs"], 0),
    "runs --json": (["runs", "{tmp}/runs", "--json"], 0),
    "report": (["report", "{tmp}/runs/moons-1", "--no-open"], 0),
    "datasets": (["datasets"], 0),
}


def imported(args: list[str], code: int, files: Path) -> list[str]:
    """The watched modules a real `nncli ARGS` process imported, checking its exit code."""
    shown = [a.format(root=ROOT, tmp=files) for a in args]
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, *shown], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == code, result.stderr[-2000:]
    last = result.stderr.splitlines()[-1]
    assert last.startswith("heavy: "), result.stderr[-2000:]
    return ast.literal_eval(last.removeprefix("heavy: "))


@pytest.mark.parametrize(("args", "code"), CASES.values(), ids=CASES.keys())
def test_no_torch_or_pandas_before_they_are_needed(files, args, code):
    assert [m for m in imported(args, code, files) if m in HEAVY] == []


@pytest.mark.parametrize("name", LIGHT)
def test_commands_that_only_read_import_no_numpy(files, name):
    args, code = CASES[name]
    assert [m for m in imported(args, code, files) if m in LIGHT[name]] == []


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A trained moons run and its test split exported as CSV: made in this process (what is
    watched is the commands' own processes), its figures built but not rendered."""
    from typer.testing import CliRunner

    from nncli.cli import app
    from nncli.report import plots

    folder = tmp_path_factory.mktemp("trained")
    run = folder / "moons"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "save_figure", lambda fig, path: plots.pyplot().close(fig))
        patch.setenv("NNCLI_FIGURE_WORKERS", "0")  # conftest's is set only for each test
        for args in (
            ["train", str(ROOT / "configs/moons.yaml"), "-s", "training.epochs=2", "--out",
             str(run), "--quiet"],
            ["split", str(run), "--out", str(folder / "split")],
        ):  # fmt: skip
            done = CliRunner().invoke(app, args)
            assert done.exit_code == 0, done.output
    return run


SAVED = {
    "evaluate": ["evaluate", "{run}"],
    "evaluate a CSV": ["evaluate", "{run}", "--data", "{run}/../split/test.csv"],
    "predict": ["predict", "{run}", "--data", "{run}/../split/test.csv"],
    "predict a split": ["predict", "{run}", "--split", "test"],
    "split": ["split", "{run}", "--out", "{run}/../again"],
    "export": ["export", "{run}", "--out", "{run}/../model.onnx"],
}


@pytest.mark.parametrize("args", SAVED.values(), ids=SAVED.keys())
def test_commands_on_a_saved_model_draw_nothing_and_need_no_scikit_learn(finished_run, args):
    shown = [a.format(run=finished_run) for a in args]
    found = imported(shown, 0, finished_run)
    assert "torch" in found  # the watch works: it sees what they do import
    assert [m for m in found if m in ("matplotlib", "sklearn", "scipy")] == []
    assert [m for m in found if m in EXTRA] == (["onnx"] if args[0] == "export" else [])
    # pandas (0.4 s) only where a CSV is read or written: evaluate on a run's splits needs none.
    tables = "--data" in args or args[0] in ("predict", "split")
    assert ("pandas" in found) == tables


TRAIN_MOONS = ["train", "{root}/configs/moons.yaml", "--set", "training.epochs=2", "--quiet"]


@pytest.fixture(scope="module")
def trained_untracked(tmp_path_factory) -> tuple[list[str], Path]:
    """What `nncli train` of a built-in set, tracking off, imported; and its folder. One run
    for the two tests that read it (each process costs seconds of imports)."""
    folder = tmp_path_factory.mktemp("untracked")
    out = folder / "run"
    return imported([*TRAIN_MOONS, "--out", str(out)], 0, folder), out


def test_training_on_a_built_in_set_does_not_import_pandas(trained_untracked):
    """A built-in set's cells are numbers: pandas (a third of a second) is for CSV files."""
    found, out = trained_untracked
    assert "torch" in found  # the watch works: it sees what training imports
    assert "pandas" not in found
    assert [m for m in found if m in EXTRA] == []
    assert (out / "model.safetensors").is_file()


@pytest.mark.parametrize("tracking", ["off", "on"])
def test_training_never_imports_mlflow_and_tensorboard_only_when_on(
    tmp_path, monkeypatch, request, tracking
):
    """Off, nothing of tracking is imported. On, TensorBoard's writer is imported where torch
    is, and MLflow (seconds of imports) only by the tracking worker, which writes the run."""
    if tracking == "off":  # the same run as the pandas test's
        found, out = request.getfixturevalue("trained_untracked")
    else:
        if not os.environ.get("CI"):  # the dev extra installs both; CI must run this
            pytest.importorskip("tensorboard")
            pytest.importorskip("mlflow")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", request.getfixturevalue("mlflow_store"))
        args = [*TRAIN_MOONS, "--set", "tracking.tensorboard=true", "--set", "tracking.mlflow=true"]
        out = tmp_path / "run"
        found = imported([*args, "--out", str(out)], 0, tmp_path)
    assert "torch" in found  # the watch works: it sees what training imports
    assert "mlflow" not in found
    assert ("tensorboard" in found) == (tracking == "on")
    assert (out / "tensorboard").is_dir() == (tracking == "on")
    assert (out / "tracking.json").is_file() == (tracking == "on")  # the worker's MLflow runs

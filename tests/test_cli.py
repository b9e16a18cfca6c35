"""The CLI end to end, through Typer's CliRunner and through real subprocesses."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from nncli.cli import app
from nncli.config.loading import load_config

ROOT = Path(__file__).resolve().parents[1]

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def train_json(config: Path, *extra: str) -> dict:
    result = invoke("train", config, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_writes_a_complete_run_folder(tiny_moons, tmp_path):
    out = tmp_path / "run"
    summary = train_json(tiny_moons, "--out", out)
    assert summary["run_dir"] == str(out)
    assert sorted(p.name for p in out.iterdir()) == [  # no fit.png: moons is not 1-D regression
        ".lock",  # held while a process runs the folder
        "config.yaml",
        "decision_boundary.png",  # two inputs, two classes: the predicted class over the plane
        "history.csv",
        "loss.png",
        "metrics.json",
        "model.safetensors",
        "precision_recall.png",  # binary: the test split's threshold curves
        "report.html",  # the folder as one page
        "roc.png",
        "run.json",
        "split.json",
    ]
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "finished"
    assert status["setup"].startswith("moons: 200 rows, 2 features, 2 classes")  # as printed
    split = json.loads((out / "split.json").read_text())
    assert split["source"] == "moons" and split["rows"] == "position"
    assert sorted(split["train"] + split["val"] + split["test"]) == list(range(200))
    assert [len(split[s]) for s in ("train", "val", "test")] == [140, 30, 30]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == {k: v for k, v in summary.items() if k != "run_dir"}
    with (out / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary["epochs_run"] == 5
    assert set(rows[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")
    # The saved config is the resolved one: defaults filled, reloadable on its own.
    resolved = load_config(out / "config.yaml")
    assert resolved.data.n_samples == 200 and resolved.training.nesterov is False


def test_json_output_is_exactly_one_object_with_the_documented_shape(tiny_moons, tmp_path):
    result = invoke("train", tiny_moons, "--json", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # fails on any extra line
    assert {"run_dir", "task", "device", "classes", "epochs_run", "best_epoch", "metrics"} <= set(
        summary
    )
    assert summary["task"] == "classification" and summary["classes"] == [0, 1]
    assert set(summary["metrics"]) == {"train", "val", "test"}
    for split in summary["metrics"].values():
        assert {"accuracy", "f1", "precision", "recall", "confusion_matrix"} <= set(split)


def test_regression_json_reports_undefined_mape_as_null(write_config, tmp_path):
    config = write_config(
        {
            "data": {"source": "sine", "n_samples": 120},
            "model": {"depth": 1, "width": 8, "activation": "tanh"},
            "training": {"epochs": 3, "lr": 0.05},
        }
    )
    summary = train_json(config, "--out", tmp_path / "r")
    assert summary["task"] == "regression" and "classes" not in summary
    test = summary["metrics"]["test"]
    assert set(test) == {"mse", "rmse", "mape", "mae", "r2"}
    assert test["mape"] is None  # sine crosses zero: a percentage error means nothing


def test_set_overrides_reach_the_saved_config(tiny_moons, tmp_path):
    out = tmp_path / "r"
    train_json(tiny_moons, "--out", out, "--set", "model.activation=relu", "-s", "training.lr=2e-2")
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["activation"] == "relu" and saved["training"]["lr"] == 0.02


def test_plain_epoch_lines_when_not_a_terminal_and_quiet_silences_them(tiny_moons, tmp_path):
    started = time.monotonic()
    loud = invoke("train", tiny_moons, "--out", tmp_path / "a", "--set", "training.epochs=300")
    seconds = time.monotonic() - started
    assert loud.exit_code == 0, loud.output
    lines = [line for line in loud.stdout.splitlines() if line.startswith("epoch ")]
    # Throttled: the first and last epoch, and at most one line a second between them.
    assert lines[0].split()[1] == "1/300" and lines[-1].split()[1] == "300/300"
    assert len(lines) <= 2 + seconds, (seconds, lines)
    assert "val_accuracy" in lines[0]
    quiet = invoke("train", tiny_moons, "--out", tmp_path / "b", "--quiet")
    assert quiet.exit_code == 0, quiet.output
    assert not [line for line in quiet.stdout.splitlines() if line.startswith("epoch ")]
    assert "accuracy" in quiet.stdout


def test_same_config_and_seed_give_identical_metrics_and_weights(tiny_moons, tmp_path):
    first = train_json(tiny_moons, "--out", tmp_path / "a")
    second = train_json(tiny_moons, "--out", tmp_path / "b")
    assert first["metrics"] == second["metrics"]
    assert (tmp_path / "a/metrics.json").read_bytes() == (tmp_path / "b/metrics.json").read_bytes()
    a, b = load_file(tmp_path / "a/model.safetensors"), load_file(tmp_path / "b/model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_changing_seed_keeps_the_split_but_changes_the_model(tiny_moons, tmp_path):
    first = train_json(tiny_moons, "--out", tmp_path / "a")
    second = train_json(tiny_moons, "--out", tmp_path / "b", "--set", "seed=4")
    matrix_sizes = {
        split: sum(map(sum, first["metrics"][split]["confusion_matrix"]))
        for split in first["metrics"]
    }
    assert matrix_sizes == {
        split: sum(map(sum, second["metrics"][split]["confusion_matrix"]))
        for split in second["metrics"]
    }
    a, b = load_file(tmp_path / "a/model.safetensors"), load_file(tmp_path / "b/model.safetensors")
    assert not torch.equal(a["0.weight"], b["0.weight"])


def test_early_stopping_restores_and_names_the_best_epoch(write_config, tmp_path):
    config = write_config(
        {
            "data": {"source": "moons", "n_samples": 200, "noise": 0.3},
            "model": {"depth": 2, "width": 32},
            "training": {
                "lr": 0.5,
                "momentum": 0.9,
                "epochs": 200,
                "early_stopping": {"patience": 3},
            },
        }
    )
    result = invoke("train", config, "--out", tmp_path / "es")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "es/metrics.json").read_text())
    assert summary["epochs_run"] < 200
    assert summary["kept_epoch"] == summary["best_epoch"]
    assert summary["epochs_run"] == summary["best_epoch"] + 3
    assert f"restored the best weights, from epoch {summary['best_epoch']}" in result.stdout
    assert f"\nepoch {summary['epochs_run']}/200 " in result.stdout  # where it stopped: shown
    with (tmp_path / "es/history.csv").open() as handle:
        val = [float(row["val_loss"]) for row in csv.DictReader(handle)]
    assert min(val) == val[summary["best_epoch"] - 1]


def test_no_validation_split_still_trains_and_plots(write_config, tmp_path):
    config = write_config(
        {
            "data": {
                "source": "moons",
                "n_samples": 100,
                "split": {"train": 0.8, "val": 0, "test": 0.2},
            },
            "training": {"epochs": 3},
        }
    )
    summary = train_json(config, "--out", tmp_path / "r")
    assert set(summary["metrics"]) == {"train", "test"}
    assert summary["monitor"] == "train_loss"
    assert (tmp_path / "r/loss.png").exists()


@pytest.mark.slow
def test_batch_size_larger_than_training_split_is_clamped_with_a_warning(write_config, tmp_path):
    config = write_config(
        {"data": {"source": "moons", "n_samples": 50}, "training": {"epochs": 2, "batch_size": 500}}
    )
    result = invoke("train", config, "--out", tmp_path / "r", "--quiet")
    assert result.exit_code == 0, result.output
    assert "warning: training.batch_size 500 is larger than the training split" in result.stderr
    # Before training, beside the setup line, not after it: stderr and stdout in one pipe.
    command = [sys.executable, "-c", "from nncli.cli import main; main()"]
    both = subprocess.run([*command, "train", str(config), "--out", str(tmp_path / "s")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines = both.stdout.splitlines()
    warning = next(i for i, line in enumerate(lines) if "batch_size 500 is larger" in line)
    assert warning < next(i for i, line in enumerate(lines) if line.startswith("epoch 1/2"))
    assert "batch 34 (clamped from 500; 1 step per epoch)" in both.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["training.lrr=0.1"], "--set training.lrr: unknown key 'lrr' (did you mean 'lr'?)"),
        (["training.lr=-1"], "--set training.lr: input should be greater than 0, got -1"),
        (["model.activation=rellu"], "unknown activation 'rellu' (did you mean 'relu'?)"),
        (["data.source=moonz"], "unknown dataset 'moonz' (did you mean 'moons'?)"),
        (["training.lr"], "expected KEY=VALUE"),
        (
            ["training.device=cuda"],
            "training.device: cuda requested but no CUDA device is available",
        ),
    ],
)
def test_bad_overrides_exit_2_with_one_clear_line_and_no_run_folder(
    tiny_moons, tmp_path, monkeypatch, overrides, message
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on most test machines
    args = [a for o in overrides for a in ("--set", o)]
    result = invoke("train", tiny_moons, "--out", tmp_path / "never", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert not (tmp_path / "never").exists()


def test_every_problem_is_reported_at_once(tiny_moons):
    result = invoke("train", tiny_moons, "-s", "training.lr=0", "-s", "model.depth=-1")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and all(str(tiny_moons) in line for line in errors)


def test_diverging_run_exits_1_naming_epoch_step_and_lr(write_config, tmp_path):
    # Raw diabetes targets are in the hundreds: an unscaled MSE with lr 1 explodes at once.
    config = write_config(
        {"data": {"source": "diabetes", "scale_target": False}, "training": {"lr": 1.0}}
    )
    result = invoke("train", config, "--out", tmp_path / "r")
    assert result.exit_code == 1, result.output
    assert "loss became non-finite at epoch 1, step" in result.stderr
    assert "try a smaller training.lr (now 1)" in result.stderr
    assert json.loads((tmp_path / "r/run.json").read_text())["status"] == "failed"


def test_out_folder_that_is_not_empty_is_refused(tiny_moons, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy/keep.txt").write_text("mine")
    result = invoke("train", tiny_moons, "--out", tmp_path / "busy")
    assert result.exit_code == 2
    assert "would overwrite" in result.stderr
    assert (tmp_path / "busy/keep.txt").read_text() == "mine"


def test_default_run_folders_never_collide(tiny_moons, tmp_path):
    first = train_json(tiny_moons)
    second = train_json(tiny_moons)
    assert first["run_dir"] != second["run_dir"]
    assert Path(first["run_dir"]).parent == tmp_path / "runs"
    assert Path(first["run_dir"]).name.startswith("moons-")


def test_config_command_prints_the_resolved_config(tiny_moons):
    result = invoke("config", tiny_moons, "--set", "training.early_stopping.patience=4")
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load(result.stdout)
    assert resolved["data"]["n_samples"] == 200
    assert resolved["training"]["early_stopping"] == {
        "patience": 4,
        "min_delta": 0.0,
    }
    assert resolved["data"]["split"] == {"train": 0.7, "val": 0.15, "test": 0.15}


def test_datasets_command_lists_the_registry():
    from nncli.datasets import DATASETS

    result = invoke("datasets")
    assert result.exit_code == 0, result.output
    for name in DATASETS:
        assert name in result.stdout


def test_debug_shows_the_traceback(tiny_moons):
    result = runner.invoke(app, ["--debug", "train", str(tiny_moons), "-s", "training.lr=0"])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "ConfigError"


SHIPPED = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_configs_validate_and_say_how_to_run_them(path):
    from nncli.config.loading import load_config

    first = path.read_text().splitlines()[0]
    assert first == f"# nncli train configs/{path.name}" or first.startswith(
        f"# nncli tune configs/{path.name} --search "
    )
    load_config(path, [])


def test_csv_config_trains_with_string_labels(tmp_path):
    summary = train_json(
        ROOT / "configs/iris_csv.yaml", "--out", tmp_path / "r", "-s", "training.epochs=3"
    )
    assert summary["classes"] == ["setosa", "versicolor", "virginica"]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from nncli.cli import main; main()", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.slow
def test_help_does_not_import_torch():
    probe = (
        "import sys; from nncli.cli import main\n"
        "sys.argv = ['nncli', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "compare-activations" in result.stdout
    assert result.stderr.strip().endswith("NO-TORCH")


@pytest.mark.slow
def test_training_a_built_in_set_imports_neither_scikit_learn_nor_dynamo(tmp_path):
    """Start-up (issue 10): a synthetic set is drawn, split and scored without scikit-learn
    (or scipy); matplotlib waits for the first plot; nothing builds torch._dynamo. Each
    synthetic set trains one epoch through the real CLI in one fresh process."""
    from nncli.datasets import DATASETS

    synthetic = [name for name, spec in DATASETS.items() if spec.synthetic]
    probe = f"""
import sys
from nncli.report import plots
from nncli.cli import main

HEAVY = ("sklearn", "scipy", "matplotlib", "torch._dynamo")
before_plotting = []  # what the first plot found imported: the first set trained by then
make_pyplot = plots.pyplot

def first_plot():
    if not before_plotting:
        before_plotting.append(sorted(name for name in HEAVY if name in sys.modules))
    return make_pyplot()

plots.pyplot = first_plot
for name in {synthetic!r}:
    sys.argv = ["nncli", "train", {str(ROOT / "configs/moons.yaml")!r}, "--quiet",
                "-s", "data.source=" + name, "-s", "data.n_samples=60", "-s", "training.epochs=1",
                "--out", {str(tmp_path)!r} + "/" + name]
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), (name, exc.code)
print("before plotting:", *before_plotting, file=sys.stderr)
print("at the end:", sorted(name for name in HEAVY if name in sys.modules), file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "before plotting: []",
        "at the end: ['matplotlib']",  # it did plot
    ]


@pytest.mark.slow
def test_subprocess_train_and_bad_yaml_exit_codes(tiny_moons, tmp_path):
    ok = run_cli("train", tiny_moons, "--json", "--out", tmp_path / "r")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["epochs_run"] == 5
    broken = tmp_path / "broken.yaml"
    broken.write_text("data:\n  source: moons\n  noise: [1,\n")
    # Without --debug, what a process exits with and prints is the same in-process (real
    # processes exit 2 in tests/test_runfolder.py and below); with it, the traceback is printed
    # by the interpreter as the process ends.
    bad = invoke("train", broken)
    assert bad.exit_code == 2
    assert bad.stderr.startswith(f"error: {broken}:") and "Traceback" not in bad.stderr
    debug = run_cli("train", broken, "--debug")
    assert "Traceback" in debug.stderr


@pytest.mark.slow
def test_data_warnings_reach_stderr_before_the_first_epoch_and_keep_exit_0(write_config, tmp_path):
    rows = "".join(f"{i},{i % 7},{(i * 37) % 101 / 10},{i % 2}\n" for i in range(1, 201))
    (tmp_path / "d.csv").write_text("row,weekday,x,y\n" + rows)
    config = write_config(
        {"data": {"source": "d.csv", "target": "y"}, "training": {"epochs": 2, "batch_size": 50}}
    )
    warning = (
        "warning: 'row': a distinct integer in each of the 140 training rows, like a row number"
        " or an id; its order may follow the target (a file sorted by class or date), and its"
        " values mean nothing to new rows: leave it out with data.ignore_columns: [row]"
    )
    result = invoke("train", config, "--out", tmp_path / "r", "--quiet")
    assert result.exit_code == 0, result.output
    assert warning in result.stderr.replace("\n", " ")
    # Before training, beside the setup line: stderr and stdout in one pipe, as a user sees.
    command = [sys.executable, "-c", "from nncli.cli import main; main()"]
    both = subprocess.run([*command, "train", str(config), "--out", str(tmp_path / "s")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    assert both.returncode == 0, both.stdout
    lines = both.stdout.splitlines()
    shown = next(i for i, line in enumerate(lines) if line.startswith("warning: 'row'"))
    assert shown < next(i for i, line in enumerate(lines) if line.startswith("epoch 1/2"))
    assert "[row]" in both.stdout  # YAML, not swallowed as markup


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("a,b,y\n1,2,x\n,3,y\n", "missing value(s) in 1 column(s): 'a' 1 (first on line 3)"),
        ("a,b,y\n1,2,x\n1,abc,y\n", "line 3, column 'b': not a finite number: 'abc'"),
        ("a,b,y\n" + "1,2,x\n" * 9 + "1,2,z\n", "class 'z' has 1 row(s), too few for a stratified"),
        ("a,b,y\n", "has a header but no data rows"),
        ("a,b,y\n" + "1,2,x\n1,3,y\n" * 5 + "1e308,2,x\n", "line 12, column 'a': '1e308' is"),
        ("a,b,y\n" + "1,2,0\n1,3,1\n" * 5 + "1,2,inf\n", "line 12, column 'y': not a finite"),
    ],
)
def test_bad_csv_exits_2_naming_the_cell_and_creates_no_run_folder(
    write_config, tmp_path, csv_text, message
):
    (tmp_path / "d.csv").write_text(csv_text)
    config = write_config({"data": {"source": "d.csv", "target": "y"}})
    result = invoke("train", config, "--out", tmp_path / "never")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and str(config) in result.stderr
    assert not (tmp_path / "never").exists()


HUGE = "q" * 100_000  # under the csv module's 131072-character field limit


@pytest.mark.parametrize(
    ("files", "args", "shown"),
    [
        ({}, ["config", "cfg.yaml", "--set", f"training.lr={HUGE}"], "got 'qqqq"),
        ({}, ["config", "cfg.yaml", "--set", f"{HUGE}=1"], "unknown key 'qqqq"),
        ({}, ["config", "cfg.yaml", "--set", f"model.activation={HUGE}"], "activation 'qqqq"),
        ({"d.csv": f"a,b,y\n1,{HUGE},0\n1,2,1\n"}, ["train", "d.yaml"], "number: 'qqqq"),
        ({"d.csv": f"a,{HUGE},y\n1,2,0\n1,2,1,4\n"}, ["train", "d.yaml"], "('a', 'qqqq"),
        ({"d.csv": f"a,b,{HUGE}\n1,2,0\n"}, ["train", "d.yaml"], "the file has: 'a', 'b', 'qqq"),
    ],
)
def test_huge_values_are_quoted_as_short_excerpts_in_one_line(tmp_path, files, args, shown):
    (tmp_path / "cfg.yaml").write_text("data: {source: moons}\n")
    (tmp_path / "d.yaml").write_text("data: {source: d.csv, target: y}\n")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = invoke(*[tmp_path / a if a.endswith(".yaml") else a for a in args])
    assert result.exit_code == 2, result.output[:300]
    assert len(result.stderr.splitlines()) == 1 and len(result.stderr) < 400, result.stderr[:500]
    assert shown in result.stderr and "q" * 41 not in result.stderr


def test_the_error_printer_caps_each_line_and_the_number_of_lines(monkeypatch, tmp_path):
    from nncli.config import loading
    from nncli.errors import ConfigError

    def many_long_problems(*args: object) -> str:
        raise ConfigError([f"problem {i}: " + "x" * 10_000 for i in range(50)])

    monkeypatch.setattr(loading, "resolved_config_yaml", many_long_problems)
    result = invoke("config", tmp_path / "any.yaml")
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and len(lines) == 20
    assert all(len(line) <= len("error: ") + 500 for line in lines)
    assert lines[0].startswith("error: problem 0: xxx")
    assert lines[-1] == "error: … and 31 more problems"

    def bug(*args: object) -> str:
        raise RuntimeError("first line " + "y" * 10_000 + "\nframe #0: C++ frames\nframe #1")

    monkeypatch.setattr(loading, "resolved_config_yaml", bug)
    result = invoke("config", tmp_path / "any.yaml")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("internal error: RuntimeError: first line yyy")
    assert len(result.stderr) < 600 and "frame" not in result.stderr


@pytest.mark.slow
def test_a_network_too_big_for_memory_is_one_line_not_a_cpp_trace(tiny_moons, tmp_path):
    """Within the config's bounds, but not within a 3 GB address space: refused before torch
    allocates (it printed an allocator error with C++ frames, or the system killed it)."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    command = [sys.executable, "-c", "from nncli.cli import main; main()", "train",
               str(tiny_moons), "-s", "model.depth=2", "-s", "model.width=20000"]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=tmp_path, preexec_fn=limit
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: model.width, model.depth: 1 network(s) of layer")
    assert len(result.stderr.splitlines()) == 1 and "GiB to train" in result.stderr


def test_an_enormous_but_representable_lr_diverges_cleanly(tiny_moons, tmp_path):
    lr = ("-s", "training.lr=1e30", "-s", "model.activation=relu")  # tanh saturates instead
    result = invoke("train", tiny_moons, *lr, "--out", tmp_path / "r")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: training diverged: the loss became non-finite")


def test_a_divergence_from_weight_decay_names_it(tiny_moons, tmp_path):
    decay = ("-s", "training.weight_decay=1e6", "-s", "training.lr=0.5")
    result = invoke("train", tiny_moons, *decay, "--out", tmp_path / "r")
    assert result.exit_code == 1, result.output
    assert "try a smaller training.lr (now 0.5) or training.weight_decay (now 1e+06)" in (
        result.stderr
    )
    plain = invoke("train", tiny_moons, "-s", "training.lr=1e30", "-s", "model.activation=relu",
                   "--out", tmp_path / "p")  # fmt: skip
    assert "weight_decay" not in plain.stderr


@pytest.mark.slow
def test_version_comes_from_the_package_metadata_without_importing_torch():
    from importlib.metadata import version

    probe = (
        "import sys; from nncli.cli import main\n"
        "sys.argv = ['nncli', '--version']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"nncli {version('nncli')}\n"
    assert result.stderr.strip().endswith("NO-TORCH")


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ([], ["--debug", "--version"]),
        (["train"], ["--json", "--quiet"]),
        (["sweep"], ["--diagnostics", "--sequential", "--json", "--quiet"]),
        (["compare-activations"], ["--sequential", "--json", "--quiet"]),
        (["evaluate"], ["--json"]),
        (["predict"], ["--force", "--keep-features", "--skip-bad-rows"]),
        (["export"], ["--force", "--json"]),
        (["runs"], ["--json"]),
    ],
)
def test_boolean_flags_show_as_flags_in_help(command, flags):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for flag in [*flags, "--help"]:
        (line,) = [line for line in lines if f" {flag} " in line]
        assert "<bool>" not in line, line
    assert "<bool>" not in result.output
    if command == ["train"]:  # options that take a value still say what it is
        assert any("--out" in line and "<path>" in line for line in lines)


def test_auto_device_is_reported_in_the_setup_line_json_and_run_json(
    tiny_moons, tmp_path, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the CPU path, even on a GPU
    shown = invoke("train", tiny_moons, "--set", "training.device=auto", "--out", tmp_path / "a")
    assert shown.exit_code == 0, shown.output
    setup = next(line for line in shown.stdout.splitlines() if line.startswith("MLP "))
    assert setup.endswith(", seed 3; on cpu, 1 thread"), setup
    summary = train_json(tiny_moons, "--set", "training.device=auto", "--out", tmp_path / "b")
    assert summary["device"] == "cpu"
    assert json.loads((tmp_path / "b/run.json").read_text())["device"] == "cpu"
    assert json.loads((tmp_path / "b/metrics.json").read_text())["device"] == "cpu"
    assert yaml.safe_load((tmp_path / "b/config.yaml").read_text())["training"]["device"] == "auto"


@pytest.mark.parametrize(
    ("available", "count", "device", "message"),
    [
        (False, 0, "cuda:1", "training.device: cuda:1 requested but no CUDA device is available"),
        (False, 0, "cuda", "training.device: cuda requested but no CUDA device is available"),
        (
            True,
            2,
            "cuda:2",
            "training.device: cuda:2 requested but this machine has 2 CUDA device(s),"
            " cuda:0 to cuda:1",
        ),
    ],
)
def test_a_cuda_device_that_is_not_there_is_one_line_and_no_run_folder(
    tiny_moons, tmp_path, monkeypatch, available, count, device, message
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    for command in (["train"], ["sweep", "--vary", "training.lr=0.1,0.2"]):
        result = invoke(*command, tiny_moons, "--set", f"training.device={device}")
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: {message}\n"
        assert not (tmp_path / "runs").exists()


def test_cuda_n_and_auto_resolve_to_an_indexed_cuda_device_where_there_is_one(monkeypatch):
    from nncli.train.devices import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("auto") == resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["train", "{tmp}"], "error: CONFIG: file '{tmp}' is a directory"),
        (["config", "{tmp}"], "error: CONFIG: file '{tmp}' is a directory"),
        (["sweep", "{cfg}", "--seeds", "abc"], "error: --seeds: input should be a valid integer"),
        (["sweep", "{cfg}", "--vary", "seed=1,2", "--max-models", "0"], "error: --max-models: "),
        (["evaluate"], "error: missing argument 'RUN'"),
        (["predict", "{tmp}", "--bogus"], "error: no such option: --bogus"),
        (["evaluate", "{tmp}", "--split", "bogus"], "error: --split: 'bogus' is not one of"),
        (["runs", "--sort"], "error: option '--sort' requires an argument"),
        (["frobnicate"], "error: no such command 'frobnicate'"),
        (["--bogus"], "error: no such option: --bogus"),
        (["train", "{cfg}", "--out", ""], "error: --out: empty path"),
        (["sweep", "{cfg}", "--vary", "seed=1,2", "-o", ""], "error: --out: empty path"),
        (["compare-activations", "{cfg}", "--out="], "error: --out: empty path"),
        (["split", "{tmp}", "--out", ""], "error: --out: empty path"),
        (["predict", "{tmp}", "--out", ""], "error: --out: empty path"),
        (["export", "{tmp}", "--out", ""], "error: --out: empty path"),
        (["export", "{tmp}", "--format", "pt"], "error: --format: 'pt' is not one of 'onnx'"),
    ],
)
def test_a_bad_argument_is_one_line_naming_it_for_every_command(tiny_moons, tmp_path, args, line):
    """As nncli's own errors: `error: ...`, exit 2, not click's usage box. An empty --out would
    be the current folder (Path('') is '.'): refused before anything is read."""
    fill = {"tmp": tmp_path, "cfg": tiny_moons}
    result = invoke(*(a.format(**fill) for a in args))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line.format(**fill)), result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "runs").exists()


def test_no_arguments_still_shows_the_help():
    result = invoke()
    assert "Usage:" in result.output and not result.output.startswith("error")


# --- a closed output pipe ----------------------------------------------------------------------

# What each command of the CLI is given when its reader has left: `{config}`, `{run}` (a trained
# run) and `{out}` (a new folder) are filled in. `split` and `export` print only on stderr, so it
# is their stderr that meets the closed pipe (`2>&1 | head -1`).
CLOSED_PIPE_CASES = {
    "train": "train {config} --out {out}",
    "compare-activations": "compare-activations {config} --activations tanh,relu --out {out}",
    "sweep": "sweep {config} --vary model.width=4,6 --out {out}",
    "tune": "tune {config} --search training.lr=loguniform(0.01,1) --trials 2 --out {out}",
    "evaluate": "evaluate {run}",
    "predict": "predict {run} --split test",
    "split": "split {run} --out {out}",
    "export": "export {run} --out {out}.onnx",
    "runs": "runs {run}/..",
    "report": "report {run} --no-open",
    "config": "config {config}",
    "datasets": "datasets",
    "lessons": "lessons",
}


def test_every_command_has_a_closed_pipe_case():
    from nncli.cli import COMMANDS

    assert set(CLOSED_PIPE_CASES) == set(COMMANDS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, make_config) -> tuple[Path, Path]:
    """A config and the run it trained."""
    folder = tmp_path_factory.mktemp("trained")
    config = folder / "moons.yaml"
    config.write_text(yaml.safe_dump(make_config()))
    assert invoke("train", config, "--out", folder / "runs" / "run").exit_code == 0
    return config, folder / "runs" / "run"


@pytest.mark.slow
@pytest.mark.parametrize("command", list(CLOSED_PIPE_CASES))
def test_a_closed_output_pipe_ends_every_command_with_141(trained, tmp_path, command):
    """The reader left before the first line (`| head -1` having read what came before): every
    command exits 141, as a shell's own commands do, never rich's silent 1; a training command
    stops at its next step, resumably, and --resume finishes it."""
    config, run = trained
    out = tmp_path / "out"
    args = [a.format(config=config, run=run, out=out) for a in CLOSED_PIPE_CASES[command].split()]
    reader, closed = os.pipe()
    os.close(reader)
    try:
        stderr = closed if command in ("split", "export") else subprocess.PIPE
        process = subprocess.run([sys.executable, "-m", "nncli", *args], stdout=closed,
                                 stderr=stderr, text=True, timeout=120)  # fmt: skip
    finally:
        os.close(closed)
    assert process.returncode == 141, process.stderr
    if command not in ("train", "compare-activations", "sweep", "tune"):
        return
    stopped = "interrupted with 0 of 2 trials" if command == "tune" else "interrupted at epoch 1"
    assert process.stderr.startswith(stopped), process.stderr
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted" and status["resumable"] is True
    resumed = invoke(command, "--resume", out)
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "run.json").read_text())["status"] == "finished"

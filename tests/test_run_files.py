"""Files read from a run folder that are malformed or of the wrong kind: one line naming the file
(and the field), never an internal error, and `nncli runs` skips such a folder by name
(issue 23, items 4 and 9)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.app.commands import run_sweep, run_train
from nncli.cli import app
from nncli.errors import Interrupted
from nncli.grid.session import Session
from nncli.report import inputs

runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory, make_config) -> dict[str, Path]:
    """A finished run and a finished sweep, to copy and break."""
    base = tmp_path_factory.mktemp("made")
    config = base / "cfg.yaml"
    config.write_text(json.dumps(make_config(training={"epochs": 2})))
    run_train(config, [], out=base / "run")
    run_sweep(config, [], vary=["training.lr=0.1,0.2"], out=base / "sweep")
    return {"run": base / "run", "sweep": base / "sweep"}


def _edit(path: Path, dotted: str, value: object) -> None:
    data = json.loads(path.read_text())
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    path.write_text(json.dumps(data))


BROKEN_FIELDS = [
    ("run", "run.json", "status", ["finished"], "field status"),
    ("run", "run.json", "created", {"a": 1}, "field created"),
    ("run", "run.json", "processes", "two", "field processes"),
    ("run", "metrics.json", "epochs_run", "3", "field epochs_run"),
    ("run", "metrics.json", "classes", "ab", "field classes"),
    ("run", "metrics.json", "metrics.test.accuracy", "high", "field metrics.test.accuracy"),
    ("run", "metrics.json", "metrics.test.per_class", [{"precision": 1}], "metrics.test.per_class"),
    ("run", "metrics.json", "metrics.test.confusion_matrix", [[1]], "test.confusion_matrix"),
    ("run", "metrics.json", "metrics", [1, 2], "field metrics"),
    ("run", "run.json", "warnings", "did not learn", "field warnings"),
    ("run", "metrics.json", "diagnostics", {"hidden_activation": "relu", "grad_norms": ["x"],
                                             "grad_ratios": []}, "diagnostics.grad_norms"),
    ("sweep", "summary.json", "results.0.grad_norms", "steep", "field results.0.grad_norms"),
    ("sweep", "summary.json", "results.0.seeds", "0", "field results.0.seeds"),
    ("sweep", "summary.json", "results.1.metrics.test.loss", {"mean": "x"}, "results.1.metrics"),
    ("sweep", "summary.json", "results.0.learned", None, "field results.0.learned"),
    ("sweep", "summary.json", "stacks.0.seconds", "fast", "field stacks.0.seconds"),
    ("sweep", "summary.json", "results", {"a": 1}, "field results"),
]  # fmt: skip


@pytest.mark.parametrize(("which", "file", "field", "value", "named"), BROKEN_FIELDS)
def test_report_over_a_field_of_the_wrong_type_is_one_line_naming_file_and_field(
    made, tmp_path, which, file, field, value, named
):
    folder = tmp_path / which
    shutil.copytree(made[which], folder)
    (folder / "report.html").unlink()
    _edit(folder / file, field, value)
    result = runner.invoke(app, ["report", str(folder), "--no-open"])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {folder / file}: ") and named in result.stderr


def test_report_figures_have_a_total_budget(made, tmp_path, monkeypatch):
    folder = tmp_path / "sweep"
    shutil.copytree(made["sweep"], folder)
    (folder / "report.html").unlink()
    figures = sorted(folder.glob("*.png"))
    assert len(figures) >= 2
    total = sum(p.stat().st_size for p in figures)
    monkeypatch.setattr(inputs, "FIGURES_LIMIT", total - 1)  # each file fits, not all of them
    result = runner.invoke(app, ["report", str(folder), "--no-open"])
    assert result.exit_code == 2, result.output
    assert "figures hold more than" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(("file", "field", "value"), [
    ("run.json", "status", ["finished"]),
    ("run.json", "created", 5),
    ("run.json", "device", {"cuda": 0}),
    ("metrics.json", "epochs_run", "3"),
    ("metrics.json", "task", ["classification"]),
    ("metrics.json", "metrics.test.accuracy", "high"),
    ("metrics.json", "metrics", [1]),
])  # fmt: skip
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_runs_skips_a_folder_with_a_field_of_the_wrong_type_and_names_it(
    made, tmp_path, file, field, value, as_json
):
    runs = tmp_path / "runs"
    shutil.copytree(made["run"], runs / "good")
    shutil.copytree(made["sweep"], runs / "sweep")
    shutil.copytree(made["run"], runs / "bad")
    _edit(runs / "bad" / file, field, value)
    result = runner.invoke(app, ["runs", str(runs), *(["--json"] if as_json else [])])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"warning: {runs / 'bad'}: skipped: {file}")
    assert result.stderr.count("\n") == 1, result.stderr
    if as_json:
        assert sorted(r["run"] for r in json.loads(result.stdout)) == ["good", "sweep"]
    else:
        assert "good" in result.stdout and "sweep" in result.stdout
        assert "bad" not in result.stdout


# --- partial/ files of an interrupted sweep (issue 23, item 4) ---------------------------------


class StopAfter:
    """A stop request that says yes on its `calls`-th question (one per training step)."""

    exit_code = 130

    def __init__(self, calls: int):
        self.asked, self.calls = 0, calls

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked >= self.calls


THREE_STACKS = {"vary": ["model.width=3,5,7", "training.lr=0.2,0.05"], "n_seeds": 1}
STEPS_PER_STACK = 24  # GRID_CONFIG: 120 rows x 0.7, batches of 16, 4 epochs


@pytest.fixture(scope="module")
def cut_sweep(module_grid_config, tmp_path_factory) -> Path:
    """A sweep of three stacks stopped inside its third: partial/ holds stacks 0 and 1."""
    cut = tmp_path_factory.mktemp("cut") / "cut"
    with pytest.raises(Interrupted):
        session = Session(should_stop=StopAfter(2 * STEPS_PER_STACK + 3))
        run_sweep(module_grid_config, [], out=cut, session=session, **THREE_STACKS)
    assert (cut / "partial/stack-1.safetensors").exists()
    return cut


def _interrupted_and_resumable(folder: Path) -> bool:
    status = json.loads((folder / "run.json").read_text())
    return status["status"] == "interrupted" and status["resumable"] is True


def _resume(folder: Path):
    return runner.invoke(app, ["sweep", "--resume", str(folder), "-q"])


@pytest.mark.usefixtures("unrendered_plots")  # the resumed sweep's figures are not what is checked
def test_a_partial_stack_replaced_by_a_fifo_fails_at_once_and_stays_resumable(cut_sweep, tmp_path):
    import os
    import subprocess
    import sys

    folder = tmp_path / "cut"
    shutil.copytree(cut_sweep, folder)
    stack = folder / "partial/stack-0.safetensors"
    stack.rename(tmp_path / "kept")
    os.mkfifo(stack)
    result = subprocess.run(  # a FIFO read would block: the timeout fails the test instead
        [sys.executable, "-m", "nncli", "sweep", "--resume", str(folder), "-q"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {stack}: finished stack is a FIFO")
    assert result.stderr.count("\n") == 1
    assert _interrupted_and_resumable(folder)
    stack.unlink()
    (tmp_path / "kept").rename(stack)
    assert _resume(folder).exit_code == 0
    assert json.loads((folder / "run.json").read_text())["status"] == "finished"


@pytest.mark.usefixtures("unrendered_plots")  # the resumed sweep's figures are not what is checked
@pytest.mark.parametrize(
    "how", ["dev-zero", "folder", "other-sweep", "swapped", "nan", "truncated"]
)
def test_a_damaged_partial_stack_is_one_line_naming_it_and_the_run_stays_resumable(
    cut_sweep, module_grid_config, tmp_path, how
):
    from safetensors.torch import load_file, save_file

    from nncli.runs.checkpoint import read_metadata

    folder = tmp_path / "cut"
    shutil.copytree(cut_sweep, folder)
    stack = folder / "partial/stack-0.safetensors"
    original = stack.read_bytes()
    expected = {
        "dev-zero": "is a symbolic link",
        "folder": "not a regular file",
        "other-sweep": "holds other models than these",
        "swapped": "holds other models than these",
        "nan": "model 1 holds weights that are not finite numbers",
        "truncated": "cannot read a finished stack back",
    }[how]
    stack.unlink()
    if how == "dev-zero":
        stack.symlink_to("/dev/zero")
    elif how == "folder":
        stack.mkdir()
    elif how == "other-sweep":  # the same grid at another seed: a stale file of other models
        cut_other = tmp_path / "cut-other"
        with pytest.raises(Interrupted):
            session = Session(should_stop=StopAfter(2 * STEPS_PER_STACK + 3))
            run_sweep(module_grid_config, ["seed=9"], out=cut_other, session=session,
                      **THREE_STACKS)  # fmt: skip
        shutil.copy(cut_other / "partial/stack-0.safetensors", stack)
    elif how == "swapped":
        shutil.copy(folder / "partial/stack-1.safetensors", stack)
    elif how == "nan":
        (tmp_path / "orig").write_bytes(original)
        tensors = load_file(tmp_path / "orig")
        name = next(n for n in tensors if n.startswith("1."))
        tensors[name][0] = float("nan")
        save_file(tensors, stack, metadata=read_metadata(original))
    else:
        stack.write_bytes(original[: len(original) // 2])
    result = _resume(folder)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {stack}: "), result.stderr
    assert expected in result.stderr and result.stderr.count("\n") == 1
    assert _interrupted_and_resumable(folder)
    if stack.is_dir():
        stack.rmdir()
    else:
        stack.unlink()
    stack.write_bytes(original)
    result = _resume(folder)
    assert result.exit_code == 0, result.output


def test_a_resumable_state_with_non_finite_weights_is_a_damaged_file(module_grid_config, tmp_path):
    from safetensors.torch import load_file, save_file

    from nncli.runs.checkpoint import read_metadata

    folder = tmp_path / "cut"
    with pytest.raises(Interrupted):  # between the first two epochs of the third stack
        session = Session(should_stop=StopAfter(2 * STEPS_PER_STACK + 7))
        run_sweep(module_grid_config, [], out=folder, session=session, **THREE_STACKS)
    last = folder / "last.safetensors"
    original = last.read_bytes()
    tensors = load_file(last)
    tensors["param.0"][1, 0, 0] = float("inf")
    save_file(tensors, last, metadata=read_metadata(original))
    result = _resume(folder)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {last}: cannot resume from this file: ")
    assert "model 1's weights are not finite numbers" in result.stderr, result.stderr
    assert "learning rate" not in result.stderr and result.stderr.count("\n") == 1
    assert _interrupted_and_resumable(folder)

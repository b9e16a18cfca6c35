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
    ("sweep", "summary.json", "results.0.seeds", "0", "field results.0.seeds"),
    ("sweep", "summary.json", "results.1.metrics.test.loss", {"mean": "x"}, "results.1.metrics"),
    ("sweep", "summary.json", "results.0.learned", None, "field results.0.learned"),
    ("sweep", "summary.json", "stacks.0.seconds", "fast", "field stacks.0.seconds"),
    ("sweep", "summary.json", "results", {"a": 1}, "field results"),
]


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

"""`nncli runs`: the listing, its filters, the settings that differ, and the table at 80 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from nncli.app.commands import run_sweep, run_train
from nncli.cli import app
from nncli.report.runs_table import runs_table
from nncli.runs.listing import list_runs

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """Three moons runs (lr and width differ), an xor run, a sweep, and a long-named run; their
    figures built but not rendered, which the listing never reads (as conftest's
    unrendered_plots, for the module)."""
    from nncli.report import plots

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "save_figure", lambda fig, path: plots.pyplot().close(fig))
        patch.setenv("NNCLI_FIGURE_WORKERS", "0")  # conftest's is set only for each test
        return _train_runs(tmp_path_factory.mktemp("listing") / "runs")


def _train_runs(base: Path) -> Path:
    config = base.parent / "moons.yaml"
    config.write_text(
        "data: {source: moons, n_samples: 120}\n"
        "model: {depth: 1, width: 8}\n"
        "training: {epochs: 2, lr: 0.1, early_stopping: null}\n"  # on in moons-c only
    )
    run_train(config, [], out=base / "moons-a")
    run_train(config, ["training.lr=0.01"], out=base / "moons-b")
    run_train(
        config, ["model.width=16", "training.early_stopping.patience=3"], out=base / "moons-c"
    )
    run_train(config, ["data.source=xor"], out=base / "xor-a")
    run_sweep(config, [], vary=["training.lr=0.1,0.5"], out=base / "moons-sweep")
    long = "breast_cancer-activations-20261128-211314-12"  # as long as default names get
    run_train(config, ["training.momentum=0.9"], out=base / long)
    return base


def render(records: list[dict], width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(runs_table(records, "runs", None, width=width), crop=False)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_the_table_fits_80_columns_and_never_cuts_a_run_name(runs_dir):
    records = list_runs(runs_dir)
    lines = render(records)
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert "…" not in "\n".join(lines)
    for record in records:  # each name whole, at the start of its own line
        assert any(line.startswith(record["run"] + " ") for line in lines), record["run"]
    header = next(line for line in lines if line.startswith("run "))
    assert header.split()[:4] == ["run", "status", "data", "epochs"]  # a 44-character name fits


def test_a_run_named_in_hangul_is_listed_whole_in_80_columns(runs_dir):
    """Hangul takes two columns a letter: widths counted in characters cut such a name."""
    from rich.cells import cell_len

    records = list_runs(runs_dir)
    records[0] = {**records[0], "run": "건강검진_데이터_분류-activations-20261202-205527"}
    lines = render(records)
    assert max(cell_len(line) for line in lines) <= 80, "\n".join(lines)
    assert any(line.startswith(records[0]["run"] + " ") for line in lines), "\n".join(lines)


def test_on_a_narrower_terminal_columns_move_under_the_name_never_the_name(runs_dir):
    records = list_runs(runs_dir)
    for width in (60, 40, 20):
        lines = render(records, width)
        for record in records:
            assert any(line.startswith(record["run"]) for line in lines), (width, record["run"])
        assert max(len(line) for line in lines) <= max(width, max(len(r["run"]) for r in records))
    narrow = "\n".join(render(records, 40))
    assert "finished, moons, 2 epochs, test accuracy" in narrow.replace("\n  ", " ")


def test_the_settings_that_differ_between_runs_on_the_same_data_are_shown(runs_dir):
    by_run = {r["run"]: r for r in list_runs(runs_dir)}
    assert by_run["moons-a"]["differs"] == {
        "model.width": 8,
        "training.lr": 0.1,
        "training.momentum": 0.0,
        "training.early_stopping": None,
    }
    assert by_run["moons-c"]["differs"]["training.early_stopping"] == {
        "patience": 3,
        "min_delta": 0.0,
    }
    assert by_run["xor-a"]["differs"] == {}  # alone on its data: nothing to compare with
    assert "training.lr" not in by_run["moons-sweep"]["differs"]  # varied: see its best variant
    assert by_run["moons-sweep"]["varied"] == ["training.lr"]
    text = "\n".join(render(list(by_run.values()), 200))
    assert "  width=8 lr=0.1 momentum=0.0 early_stopping=off\n" in text + "\n"
    assert "  width=16 lr=0.1 momentum=0.0 early_stopping=on\n" in text + "\n"
    assert "  sweep, best on val accuracy: lr=" in text
    # Filtered to the runs that differ only in lr, only lr is shown.
    two = list_runs(runs_dir, name="moons-[ab]")
    assert [r["differs"] for r in sorted(two, key=lambda r: r["run"])] == [
        {"training.lr": 0.1},
        {"training.lr": 0.01},
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--source", "xor"], ["xor-a"]),
        (["--source", "xor.csv"], []),
        (["--source", "mo*", "--name", "moons"], ["moons-a", "moons-b", "moons-c", "moons-sweep"]),
        (["--name", "sweep"], ["moons-sweep"]),
        (["--name", "moons-?"], ["moons-a", "moons-b", "moons-c"]),
        (
            ["--name", "breast_*", "--source", "moons"],
            ["breast_cancer-activations-20261128-211314-12"],
        ),
        (["--name", "xor", "--source", "moons"], []),
    ],
)
def test_runs_are_filtered_by_source_and_name(runs_dir, options, expected):
    result = runner.invoke(app, ["runs", str(runs_dir), *options, "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(r["run"] for r in json.loads(result.stdout)) == expected


def test_json_records_have_the_fields_the_help_and_readme_name(runs_dir):
    result = runner.invoke(app, ["runs", str(runs_dir), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)  # one JSON list, as --json says
    assert isinstance(records, list) and len(records) == 6
    keys = {key for record in records for key in record}
    assert all(set(record) == keys for record in records)
    page = (ROOT / "docs/commands.md").read_text()
    section = page.split("### Listing runs\n", 1)[1].split("\n#", 1)[0]
    documented = {
        name for row in re.findall(r"^\| (`.*?) \|", section, flags=re.M)
        for name in re.findall(r"`(\w+)`", row)
    }  # fmt: skip
    assert documented == keys
    help_text = runner.invoke(app, ["runs", "--help"], env={"COLUMNS": "200"}).output
    json_help = " ".join(help_text.split("--json", 1)[1].split())
    assert all(re.search(rf"\b{key}\b", json_help) for key in keys), json_help
    assert "one JSON list" in json_help


def test_a_foreign_config_with_dates_and_odd_values_still_lists(runs_dir, tmp_path):
    import shutil

    base = tmp_path / "runs"
    for name, day in (("moons-a", "2019-12-31"), ("moons-b", "2020-01-01")):
        shutil.copytree(runs_dir / name, base / name)
        config = base / name / "config.yaml"  # as another tool might have left it
        config.write_text(config.read_text() + f"notes: {{when: {day}, 1: one}}\n")
    result = runner.invoke(app, ["runs", str(base), "--json"])
    assert result.exit_code == 0, result.output
    differs = {r["run"]: r["differs"] for r in json.loads(result.stdout)}
    assert differs["moons-b"]["notes.when"] == "2020-01-01"
    assert runner.invoke(app, ["runs", str(base)]).exit_code == 0

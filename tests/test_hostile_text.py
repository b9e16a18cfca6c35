"""Text from data, paths, folders and files is shown literally: never parsed as rich markup, never
sent to the terminal as control characters (issue 23, item 5)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from nncli.cli import app
from nncli.errors import printable
from nncli.report.tables import confusion_table, safe

runner = CliRunner()

# Labels and column names a hostile (or unlucky) CSV may hold: markup that would crash rich, or
# restyle, or make a hyperlink; escape sequences that would set the window title, clear the
# screen or colour what follows.
LABELS = ["[/]", "[bold red]x", "[link=http://x]click", "\x1b]0;pwned\x07t", "\x1b[2Jc"]
COLUMNS = ["[/]", "[bold red]f", "\x1b[31mred"]


def _output(result) -> str:
    return result.output  # stdout and stderr, interleaved


def _hostile_csv(folder: Path) -> Path:
    rows = [",".join([*COLUMNS, "y"])]
    for i in range(100):
        k = i % len(LABELS)
        rows.append(f"{k + (i % 7) / 7},{(i % 3) / 3},{-k + (i % 5) / 5},{LABELS[k]}")
    (folder / "d.csv").write_text("\n".join(rows) + "\n")
    config = folder / "d.yaml"
    config.write_text(
        "data: {source: d.csv, target: y}\nmodel: {depth: 1, width: 8}\ntraining: {epochs: 3}\n"
    )
    return config


@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]])
def test_printable_shows_every_control_character_but_newline_and_tab(char):
    shown = printable(f"a{char}b")
    if char in "\n\t":
        assert shown == f"a{char}b"
    else:
        assert shown == f"a\\x{ord(char):02x}b"


def test_safe_text_renders_literally_in_a_table():
    console = Console(record=True, width=200, color_system=None)
    console.print(confusion_table([[1, 0], [0, 1]], ["[/]", "[link=http://x]c"], title="[/]t"))
    text = console.export_text()
    assert "[/]t" in text and "[link=http://x]c" in text
    for hostile in [*LABELS, *COLUMNS, "x\\", "[b]\\[i]", "\x9b31m"]:
        # Inside markup, as nncli's messages use it (a trailing backslash is doubled by rich's
        # escape so that it cannot escape the tag after it).
        assert console.render_str(f"[bold]{safe(hostile)}[/]").plain == printable(hostile)


def test_train_and_evaluate_with_hostile_labels_and_columns(tmp_path):
    config = _hostile_csv(tmp_path)
    out = tmp_path / "[/]x"
    result = runner.invoke(app, ["train", str(config), "--out", str(out)])
    text = _output(result)
    assert result.exit_code == 0, text
    assert "\x1b" not in text
    for label in ["[/]", "[bold red]x", "[link=http://x]click", "\\x1b]0;pwned\\x07t", "\\x1b[2Jc"]:
        assert label in text
    assert f"run saved to {out}" in text
    result = runner.invoke(app, ["evaluate", str(out)])
    text = _output(result)
    assert result.exit_code == 0, text
    assert "\x1b" not in text and "[link=http://x]click" in text and "\\x1b[2Jc" in text


def test_a_sweep_shows_varied_values_and_its_folder_literally(request):
    # A short folder: the varied sources are shown as absolute paths, and a long one (pytest's
    # per-worker folders) would wrap the cell inside the 200-column table of a non-terminal.
    tmp_path = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(tmp_path, ignore_errors=True))
    config = _hostile_csv(tmp_path)
    names = ["a[b]x.csv", "c\x1b]0;t\x07.csv"]  # bold markup; a window title
    for name in names:
        shutil.copy(tmp_path / "d.csv", tmp_path / name)
    out = tmp_path / "sw[/]\x1b[2J"
    vary = f"data.source={','.join(str(tmp_path / name) for name in names)}"
    result = runner.invoke(app, ["sweep", str(config), "-v", vary, "--out", str(out), "-q"])
    text = _output(result)
    assert result.exit_code == 0, text
    assert "\x1b" not in text and "\x07" not in text
    assert "a[b]x.csv" in text and "c\\x1b]0;t\\x07.csv" in text and "sw[/]\\x1b[2J" in text


def test_runs_shows_a_hostile_folder_and_run_json_field_literally(tmp_path, tiny_moons):
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(tiny_moons), "--out", str(runs / "a")]).exit_code == 0
    evil = runs / "evil\x1b]0;title\x07\x1b[2J[b]"
    shutil.copytree(runs / "a", evil)
    status = json.loads((evil / "run.json").read_text())
    status["status"] = "\x1b[31m[bold]finished"
    (evil / "run.json").write_text(json.dumps(status))
    result = runner.invoke(app, ["runs", str(runs)], terminal_width=200)
    text = _output(result)
    assert result.exit_code == 0, text
    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b]0;title\\x07\\x1b[2J[b]" in text and "\\x1b[31m[bold]finished" in text


def test_an_error_quoting_a_hostile_path_is_one_visible_line(tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path / "no\x1b[2J[/]run")])
    text = _output(result)
    assert result.exit_code == 2, text
    assert "\x1b" not in text and "no\\x1b[2J[/]run" in text
    assert len([line for line in text.splitlines() if line.startswith("error:")]) == 1


def test_progress_and_warning_lines_show_text_literally(capsys):
    import sys

    from nncli.cli.training import _warn
    from nncli.report.progress import EpochProgress

    with EpochProgress(sys.stdout) as bar:  # not a terminal: plain lines
        bar.print("resuming runs/[/]\x1b[2Jx at epoch 2")
    _warn("column '[bold red]f\x1b]0;t\x07' looks like an id")
    captured = capsys.readouterr()
    assert captured.out == "resuming runs/[/]\\x1b[2Jx at epoch 2\n"
    assert captured.err == "warning: column '[bold red]f\\x1b]0;t\\x07' looks like an id\n"

"""Writes that never replace what is not a regular file, and reads that refuse such files."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nncli import fileio
from nncli.errors import UsageError

# A child process that writes argv[2] to argv[1] as a path the user named.
WRITER = (
    "import sys; from nncli.fileio import atomic_write_text as w;"
    " w(sys.argv[1], sys.argv[2], named_by_user=True)"
)


def write_as_user(path: Path, text: str) -> None:
    fileio.atomic_write_text(path, text, named_by_user=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_symlink_the_user_named_is_kept_and_its_target_written(tmp_path):
    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to("target.csv")
    write_as_user(link, "new")
    assert link.is_symlink() and os.readlink(link) == "target.csv"
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "target.csv"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to("later.csv")
    write_as_user(link, "new")
    assert link.is_symlink() and (tmp_path / "later.csv").read_text() == "new"


def test_a_hard_linked_file_is_rewritten_in_place_so_every_link_sees_it(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("a much longer old content")
    os.link(first, second)
    write_as_user(first, "new")
    assert first.stat().st_ino == second.stat().st_ino and first.stat().st_nlink == 2
    assert second.read_text() == "new"


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_as_user(fifo, "through")
        assert os.read(reader, 100) == b"through"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_nobody_reads_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-c", WRITER, str(fifo), "x"], capture_output=True, text=True, timeout=30
    )
    assert "no process is reading it" in result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_an_open_file_of_this_process_is_written_through_and_appended_to(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("before\n")
    with out.open("a") as stdout:
        command = [sys.executable, "-c", WRITER, "/proc/self/fd/1", "after\n"]
        subprocess.run(command, stdout=stdout, check=True, timeout=30)
    assert out.read_text() == "before\nafter\n"


@pytest.mark.parametrize("named_by_user", [True, False])
def test_a_folder_is_refused_in_one_line(tmp_path, named_by_user):
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match=r"out: is a folder; give a file name$"):
        fileio.atomic_write_text(tmp_path / "out", "x", named_by_user=named_by_user)


def test_a_symlink_in_a_run_folder_is_replaced_never_written_through(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").symlink_to(outside)
    fileio.atomic_write_json(run / "metrics.json", {"a": 1})
    assert outside.read_text() == "precious"
    assert not (run / "metrics.json").is_symlink()
    assert json.loads((run / "metrics.json").read_text()) == {"a": 1}


def test_new_files_follow_the_umask_and_rewritten_files_keep_their_mode(tmp_path):
    previous = os.umask(0o027)
    try:
        fileio.atomic_write_text(tmp_path / "new.txt", "x")
        assert mode(tmp_path / "new.txt") == 0o640
        os.umask(0o002)
        fileio.atomic_write_text(tmp_path / "other.txt", "x")
        assert mode(tmp_path / "other.txt") == 0o664
        (tmp_path / "new.txt").chmod(0o604)
        fileio.atomic_write_text(tmp_path / "new.txt", "y")
        assert mode(tmp_path / "new.txt") == 0o604
    finally:
        os.umask(previous)


def test_predict_onto_a_symlink_or_fifo_writes_through(tmp_path):
    """End to end: `predict --out LINK --force` keeps the link; a FIFO gets the rows."""
    from typer.testing import CliRunner

    from nncli.cli import app
    from nncli.model.card import ModelCard
    from nncli.model.mlp import seeded_mlp
    from nncli.runs.checkpoint import save_checkpoint

    card = ModelCard(config={}, task="regression", sizes=[1, 1], activation="relu",
                     feature_names=["x"], target_name="y", classes=None,
                     feature_scaling={"kind": "none", "offset": [0.0], "scale": [1.0]},
                     target_scaling=None)  # fmt: skip
    model = tmp_path / "m.safetensors"
    save_checkpoint(model, seeded_mlp(card.sizes, card.activation, 0), card)
    data = tmp_path / "d.csv"
    data.write_text("x\n1\n2\n")
    (tmp_path / "target.csv").write_text("old")
    (tmp_path / "link.csv").symlink_to("target.csv")
    os.mkfifo(tmp_path / "fifo")
    reader = os.open(tmp_path / "fifo", os.O_RDONLY | os.O_NONBLOCK)
    try:
        for out in ("link.csv", "fifo"):
            result = CliRunner().invoke(app, ["predict", str(model), "--data", str(data),
                                              "--out", str(tmp_path / out), "--force"])  # fmt: skip
            assert result.exit_code == 0, result.output
        assert os.read(reader, 1000).decode().startswith("prediction\n")
    finally:
        os.close(reader)
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "target.csv").read_text().startswith("prediction\n")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_strict_json_turns_non_finite_numbers_into_null(tmp_path):
    data = {"a": [1.0, math.inf, -math.inf], "b": (math.nan,), "c": "inf"}
    assert json.loads(fileio.to_json(data)) == {"a": [1.0, None, None], "b": [None], "c": "inf"}
    fileio.atomic_write_json(tmp_path / "m.json", data)
    strict = json.loads((tmp_path / "m.json").read_text(), parse_constant=reject)
    assert strict["a"] == [1.0, None, None]


def reject(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")

"""lessons/runner.py and lessons/running.py: commands run as `nncli` runs them, in forked
processes, several at once; a failed command stops its lesson with its own words, and what
comes after it never starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nncli.lessons.runner import Command, run_commands


def test_a_command_after_one_that_is_not_there_is_refused_before_anything_runs(tmp_path):
    commands = [Command("a", ("datasets",), tmp_path, after=("missing",))]
    with pytest.raises(ValueError, match="missing"):
        run_commands(commands, entry=lambda: None, workers=1, scratch=tmp_path)


# Run as `python -c` (a fork of the pytest process, whose torch may hold threads, is not safe):
# a lesson of two steps, the first of which fails, the second reading its folder.
FAILING_LESSON = """
import sys
from pathlib import Path
from nncli.cli import entry
from nncli.errors import RunFailedError
from nncli.lessons.lesson import Lesson, Step
from nncli.lessons.running import Places, run_lessons

lesson = Lesson(
    number=9, slug="broken", title={"en": "broken"}, figures=(), ideas=(), text={"en": ""},
    steps=(Step("bad", "train {configs}/nowhere.yaml --out {out}"),
           Step("after", "evaluate {runs}/bad --json", after=("bad",))),
    numbers=lambda runs: {}, claims=lambda numbers: [],
)
places = Places.here(Path("runs"), Path.cwd())
started = []
try:
    run_lessons([(lesson, places)], entry=entry, on_start=lambda c: started.append(c.key))
except RunFailedError as exc:
    print(exc)
    print("started:", started)
"""


@pytest.mark.slow
def test_a_failed_command_stops_the_lesson_with_its_words_and_what_follows_never_starts(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FAILING_LESSON)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    configs = Path(__file__).resolve().parents[1] / "configs"
    assert lines[0] == f"nncli train {configs}/nowhere.yaml --out runs/bad exited 2"
    assert "nowhere.yaml" in lines[1] and lines[1].lstrip().startswith("error:")
    assert lines[-1] == "started: ['9/bad']"  # the evaluate that reads its folder never ran
    assert not (tmp_path / "runs/bad").exists()

"""`nncli lessons` and `nncli lessons run N`: the listing, its errors, and a lesson run end to end
through the real commands in both languages, its numbers checked against the run's own JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.lessons.catalog import LESSONS
from nncli.lessons.lesson import LANGUAGES, language

ROOT = Path(__file__).resolve().parents[1]
HANGUL = range(0xAC00, 0xD7A4)


def korean(text: str) -> bool:
    return any(ord(ch) in HANGUL for ch in text)


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def test_lessons_lists_the_six_in_the_notes_order_in_either_language():
    result = invoke("lessons", "--lang", "en")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(".")[0] for line in lines if line[:1].isdigit()] == list("123456")
    assert "1. the perceptron and XOR" in lines
    assert "vanishing gradient" in result.output and "specificity" in result.output
    assert not korean(result.output)
    result = invoke("lessons", "--lang", "ko")
    assert result.exit_code == 0, result.output
    assert "1. 퍼셉트론과 XOR" in result.output and "특이도" in result.output


def test_lessons_json_names_each_lesson_its_ideas_and_its_command():
    result = invoke("lessons", "--json", "--lang", "ko")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["lesson"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[5]["command"] == "nncli lessons run 6"
    assert "특이도" in rows[5]["ideas"]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"),  # LC_ALL wins, as in libc
        ({"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_language_follows_the_locale_unless_lang_says(monkeypatch, environment, expected):
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert language(None) == expected
    assert {language(lang) for lang in LANGUAGES} == set(LANGUAGES)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["9"], "error: lesson 9: no such lesson; `nncli lessons` lists lessons 1 to 6"),
        (["0"], "error: lesson 0: no such lesson"),
        (["x"], "error: N: input should be a valid integer"),
        (["1", "--lang", "fr"], "error: --lang: 'fr' is not one of 'en', 'ko'"),
        (["1", "--out", ""], "error: --out: empty path"),
        ([], "error: missing argument 'N'"),
    ],
)
def test_a_bad_lesson_or_option_is_one_line_and_exit_2(args, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nncli", "lessons", "run", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing was made


def test_an_out_that_is_a_file_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "taken").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "nncli", "lessons", "run", "1", "--out", "taken"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: --out taken: cannot make the folder"), result.stderr


def _run_lesson(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nncli", "lessons", "run", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_lesson_1_runs_end_to_end_in_korean_and_english_with_the_runs_own_numbers(tmp_path):
    ko = _run_lesson(tmp_path, "1", "--lang", "ko")
    assert ko.returncode == 0, ko.stderr
    folder = tmp_path / "lessons/1-perceptron"
    summary = json.loads((folder / "xor/summary.json").read_text())
    depth0 = summary["results"][0]["metrics"]
    seeds = ", ".join(f"{a:.2f}" for a in depth0["train"]["accuracy"]["values"])
    assert f"은닉층이 없으면 시드별 학습 정확도는 {seeds}입니다." in ko.stdout
    assert (
        f"{depth0['test']['accuracy']['mean']:.4f} ± {depth0['test']['accuracy']['std']:.4f}"
        in (ko.stdout)
    )
    command = (
        f"$ nncli sweep {ROOT / 'configs/xor_mlp.yaml'} --vary model.depth=0,1 --seeds 5"
        " --out lessons/1-perceptron/xor"
    )
    assert command in ko.stdout.splitlines()  # as typed, to be run again
    assert "그림: lessons/1-perceptron/xor/decision_boundaries.png" in ko.stdout
    assert (folder / "xor/decision_boundaries.png").stat().st_size > 0

    en = _run_lesson(tmp_path, "1", "--json", "--lang", "en")  # a second folder, never the first
    assert en.returncode == 0, en.stderr
    shown = json.loads(en.stdout)
    again = json.loads((tmp_path / "lessons/1-perceptron-2/xor/summary.json").read_text())
    line = again["results"][0]["metrics"]
    assert shown["folder"] == "lessons/1-perceptron-2" and shown["lang"] == "en"
    assert shown["numbers"]["line_train"] == line["train"]["accuracy"]["values"]
    assert shown["numbers"]["line_test"] == line["test"]["accuracy"]["mean"]
    assert shown["numbers"]["line_train"] == depth0["train"]["accuracy"]["values"]  # same seeds
    assert shown["claims_failed"] == [] and shown["commands"][0]["exit_code"] == 0
    assert shown["figures"][0]["path"] == "lessons/1-perceptron-2/xor/decision_boundaries.png"


# Run as `python -c`: the CLI with the training step's stop question wrapped so that, in the
# lesson's command (a child of the lessons process), the AT-th question sends the lessons process
# the signal a terminal's Ctrl-C (or a `kill`) would, then waits for it to be passed on.
STOPPED_LESSON = """
import os, signal, sys, time
from nncli import interrupts
from nncli.cli import entry

lessons, signum, at = os.getpid(), getattr(signal, sys.argv[1]), int(sys.argv[2])
ask, asked = interrupts.StopRequest.__call__, 0

def question(request):
    global asked
    answer = ask(request)
    if os.getpid() != lessons:
        asked += 1
        if asked == at:
            os.kill(lessons, signum)
            for _ in range(1000):  # passed on within milliseconds; 10 s at most
                if request.signum is not None:
                    break
                time.sleep(0.01)
            answer = ask(request)
    return answer

interrupts.StopRequest.__call__ = question
sys.argv = ["nncli", "lessons", "run", "1", "--out", "here"]
entry()
"""


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stopped_lesson_stops_its_command_resumably_and_exits_with_the_signal(
    tmp_path, name, code
):
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STOPPED_LESSON), name, "30"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == code, done.stderr
    lines = done.stderr.splitlines()
    assert f"interrupted ({name})" in lines
    stopped = [line for line in lines if line.startswith("stopped: nncli sweep")]
    assert len(stopped) == 1 and "--resume" in stopped[0], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    run = json.loads((tmp_path / "here/1-perceptron/xor/run.json").read_text())
    assert run["status"] == "interrupted" and run["resumable"] is True
    # Resumed in this process: what is checked is the folder the stopped process left.
    resumed = invoke("sweep", "--resume", str(tmp_path / "here/1-perceptron/xor"), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert len(json.loads(resumed.stdout)["results"]) == 2


def test_every_lesson_has_its_steps_figures_and_both_languages():
    keys = [step.key for lesson in LESSONS.values() for step in lesson.steps]
    assert len(keys) == len(set(keys))  # the tutorial runs them all in one runs/ folder
    for lesson in LESSONS.values():
        assert set(lesson.title) == set(lesson.text) == set(LANGUAGES)
        for text in lesson.text.values():
            blocks = {block.strip() for block in text.split("\n\n")}
            assert {f"[[run {step.key}]]" for step in lesson.steps} <= blocks
            assert {f"[[figure {figure.name}]]" for figure in lesson.figures} <= blocks
        assert korean(lesson.text["ko"]) and not korean(lesson.text["en"])
        assert all(set(idea.name) == set(idea.shown) == set(LANGUAGES) for idea in lesson.ideas)

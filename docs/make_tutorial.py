"""Regenerate docs/tutorial.md, docs/tutorial.ko.md and their figures by running every lesson.

    .venv/bin/python docs/make_tutorial.py

The lessons are nncli's own (`src/nncli/lessons/`, what `nncli lessons run N` runs): their
commands, the numbers read from what those wrote, the claims the numbers must bear out, and the
prose of each language filled with them. Here every command of all six runs once, side by side
(one per CPU, in processes forked from this one once torch is imported: lessons/runner.py), in a
scratch folder where `configs/` and `data/` are this repository's, exactly as the pages print
them; a lesson whose claims no longer hold stops the script instead of being written up. Both
pages come from the same runs; figures are nncli's own, stored as 256-colour PNGs, and every
number the prose shows goes to docs/tutorial/numbers.json (tests/test_tutorial.py compares it
with the pages and with a fresh run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from nncli.cli import entry
from nncli.lessons.catalog import LESSONS
from nncli.lessons.glossary import GLOSSARY
from nncli.lessons.lesson import blocks, fill
from nncli.lessons.runner import Command
from nncli.lessons.running import LessonRun, Places, run_lessons

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"en": ROOT / "docs/tutorial.md", "ko": ROOT / "docs/tutorial.ko.md"}
FIGURES = ROOT / "docs/tutorial"
NUMBERS = FIGURES / "numbers.json"
# Plain epoch lines (output to a file or pipe): shown as "..." once.
PROGRESS = re.compile(r"^(stack \d+/\d+ +)?epoch \d+/\d+ ")

INTRO = {
    "en": """# Seeing the ideas: six lessons with real numbers

[한국어](tutorial.ko.md) · The course notes' six lessons, in their order: each is a few nncli
commands, the output they print, the figures they draw, and what to read in them. Every number
and figure on this page was produced by those commands, by `python docs/make_tutorial.py`
(regenerate it after changing nncli; the numbers may move in the last digits, the lessons may
not). The same lessons run from one command, explained in English or Korean:
`nncli lessons` lists them and `nncli lessons run N [--lang ko]` runs one. A small version of
each lesson runs in `tests/test_lessons.py`, so no change can quietly break one.

Run the commands from the repository's root, with nncli on your path (`make demo` sets up
`.venv`, then `source .venv/bin/activate`). Each writes its folder with `--out`; nncli never
overwrites a folder, so to run a lesson again remove `runs/` first. Training runs on the CPU
with fixed seeds, on one thread: on another machine the numbers can differ in the last digits.
""",
    "ko": """# 개념을 눈으로: 실제 숫자로 보는 여섯 수업

[English](tutorial.md) · 강의 노트의 여섯 수업을 노트의 순서대로 담았습니다. 수업마다 nncli 명령
몇 개와 그 출력, 그 명령이 그린 그림, 그리고 거기서 읽어 낼 것이 있습니다. 이 페이지의 모든 숫자와
그림은 그 명령들이 `python docs/make_tutorial.py`로 만든 것입니다(nncli를 바꾼 뒤 다시 만드십시오.
숫자는 끝자리가 달라질 수 있어도 수업의 결론은 달라지면 안 됩니다). 같은 수업을 명령 하나로, 한국어
설명과 함께 실행할 수 있습니다. `nncli lessons`가 수업 목록을 보여 주고, `nncli lessons run N
--lang ko`가 수업 하나를 실행합니다. 각 수업의 축소판이 `tests/test_lessons.py`에서 돌아가므로,
어떤 변경도 수업을 몰래 깨뜨릴 수 없습니다.

명령은 저장소의 최상위 폴더에서, nncli가 경로에 있는 상태로 실행하십시오(`make demo`가 `.venv`를
만들고, 그다음 `source .venv/bin/activate`). 각 명령은 `--out`으로 자기 폴더를 만듭니다. nncli는
폴더를 덮어쓰지 않으니, 수업을 다시 실행하려면 먼저 `runs/`를 지우십시오. 학습은 CPU에서 고정된
시드와 스레드 하나로 돌아가므로, 다른 컴퓨터에서는 숫자의 끝자리가 다를 수 있습니다.
""",
}
WORDS = {
    "en": {
        "glossary": "## The notes' terms in nncli",
        "glossary_head": "| term | 강의 노트 | in nncli | lesson |\n|---|---|---|---|",
        "lesson": "Lesson",
        "guarded": "Guarded by",
        "and": "and",
        "report": """## Every run as one page

Every run, sweep and comparison folder above also holds `report.html`: the config, the setup
line, every metrics table, the confusion matrices and every figure, in one file that needs no
network and no JavaScript. `nncli report` prints where it is and opens it in your browser
(`--no-open` only prints; a folder from an older nncli gets its page written first):""",
        "ideas": "## The ideas of the notes, and where each shows",
        "ideas_head": "| idea | command | what it measured |\n|---|---|---|",
    },
    "ko": {
        "glossary": "## 강의 노트의 용어와 nncli",
        "glossary_head": "| 강의 노트 | English | nncli에서 | 수업 |\n|---|---|---|---|",
        "lesson": "수업",
        "guarded": "이 수업을 지키는 테스트:",
        "and": "그리고",
        "report": """## 모든 실행을 한 페이지로

위의 모든 실행, 스윕, 비교 폴더에는 `report.html`도 있습니다. 설정, 설정 줄, 모든 지표 표, 혼동
행렬, 모든 그림이 네트워크도 자바스크립트도 필요 없는 파일 하나에 들어 있습니다. `nncli report`는 그
위치를 출력하고 브라우저로 엽니다(`--no-open`은 출력만 합니다. 이전 버전 nncli의 폴더라면 먼저
페이지를 만듭니다):""",
        "ideas": "## 강의 노트의 개념과 그것이 보이는 곳",
        "ideas_head": "| 개념 | 명령 | 잰 값 |\n|---|---|---|",
    },
}


def console(command: str, output: str) -> str:
    """A command and what it printed as a console block, its epoch lines shown as `...`."""
    lines: list[str] = []
    for line in output.splitlines():
        if PROGRESS.match(line):
            if lines[-1:] != ["..."]:
                lines.append("...")
        else:
            lines.append(line.rstrip())
    return f"```console\n$ {command}\n" + "\n".join(lines) + "\n```"


def figure(run: LessonRun, name: str, lang: str, work: Path) -> str:
    """Copy a figure nncli drew into docs/tutorial/ (256 colours: a third of the bytes)."""
    target = FIGURES / name
    if not target.exists():
        with Image.open(work / run.figure_path(name)) as image:
            small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
            small.save(target, optimize=True)
    return f"![{run.lesson.figure(name).alt[lang]}](tutorial/{name})"


def guarded(number: int, lang: str) -> str:
    """The tests that keep a lesson true, as found in tests/test_lessons.py."""
    text = (ROOT / "tests/test_lessons.py").read_text()
    tests = re.findall(rf"^def (test_lesson{number}_\w+)\(", text, flags=re.M)
    named = f" {WORDS[lang]['and']} ".join(f"`tests/test_lessons.py::{t}`" for t in tests)
    return f"{WORDS[lang]['guarded']} {named}" + ("." if lang == "en" else "")


def page(runs: list[LessonRun], report: str, lang: str, work: Path) -> str:
    words = WORDS[lang]
    terms = "\n".join(
        f"| {en} | {ko} | {where[lang]} | {lesson or '-'} |" if lang == "en"
        else f"| {ko} | {en} | {where[lang]} | {lesson or '-'} |"
        for ko, en, where, lesson in GLOSSARY
    )  # fmt: skip
    parts = [INTRO[lang], words["glossary"], "", words["glossary_head"], terms, ""]
    ideas = []
    for run in runs:
        lesson = run.lesson
        parts.append(f"## {words['lesson']} {lesson.number}: {lesson.title[lang]}\n")
        shown = blocks(
            lesson.text[lang],
            run.numbers,
            run=lambda key, run=run: console(run.commands[key].shown, run.output(key)),
            figure=lambda name, run=run: figure(run, name, lang, work),
        )
        parts += [*(f"{block}\n" for block in shown), guarded(lesson.number, lang), ""]
        ideas += [f"| {idea.name[lang]} | `nncli lessons run {lesson.number}` |"
                  f" {fill(idea.shown[lang], run.numbers)} |" for idea in lesson.ideas]  # fmt: skip
    parts += [words["report"], "", report, "", words["ideas"], "", words["ideas_head"], *ideas, ""]
    return "\n".join(parts)


def main() -> None:
    if sys.argv[1:]:
        raise SystemExit("usage: python docs/make_tutorial.py (no options: it reruns every lesson)")
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="nncli-tutorial-"))
    try:
        for name in ("configs", "data"):
            (work / name).symlink_to(ROOT / name)
        places = Places("configs", "data", "runs", work)
        report = Command("report", ("report", "runs/xor", "--no-open"), work, after=("1/xor",))

        def said(done) -> None:
            print(f"{done.seconds:6.1f} s {done.cpu_seconds:6.1f} s CPU  {done.command.shown}",
                  file=sys.stderr, flush=True)  # fmt: skip

        runs, done = run_lessons([(lesson, places) for lesson in LESSONS.values()],
                                 entry=entry, extra=[report], on_done=said)  # fmt: skip
        for run in runs:
            if run.failed:
                raise SystemExit(f"lesson {run.lesson.number} no longer holds: {run.failed}")
        shown = console(report.shown, done["report"].output)
        # Only now, every lesson run and checked: a stopped or failed run leaves the pages whole.
        if FIGURES.exists():
            shutil.rmtree(FIGURES)
        FIGURES.mkdir(parents=True)
        for lang, path in PAGES.items():
            path.write_text(page(runs, shown, lang, work))
        NUMBERS.write_text(
            json.dumps({run.lesson.number: run.numbers for run in runs}, indent=1) + "\n"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpu = sum(d.cpu_seconds for d in done.values())
    print(f"wrote {', '.join(map(str, PAGES.values()))} in {time.perf_counter() - started:.0f} s"
          f" ({cpu:.0f} s CPU in the commands; load {os.getloadavg()[0]:.1f})",
          file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()

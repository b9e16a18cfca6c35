"""docs/tutorial.md and docs/tutorial.ko.md: every number they show is the lessons' own
(docs/tutorial/numbers.json, which docs/make_tutorial.py wrote from the same runs), and a fresh
run of a lesson gives those numbers again within 1e-3."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nncli.lessons.catalog import LESSONS
from nncli.lessons.glossary import GLOSSARY
from nncli.lessons.lesson import LANGUAGES, blocks, fill

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"en": ROOT / "docs/tutorial.md", "ko": ROOT / "docs/tutorial.ko.md"}
NUMBERS = ROOT / "docs/tutorial/numbers.json"
MEASURED = {"seconds"}  # wall-clock times: a number of the run, never the same twice
# The course notes' terms (issue 21): each must have a row of the glossary.
TERMS = ["퍼셉트론", "활성화 함수", "계단 함수", "시그모이드", "순전파", "역전파",
         "경사 하강법", "확률적 경사 하강법", "에포크", "미니배치", "배치 크기", "학습률",
         "보편 근사 정리", "과적합", "기울기 소실", "평균 제곱 오차", "평균 절대 백분율 오차",
         "정확도", "정밀도", "재현율", "특이도", "F1 점수"]  # fmt: skip


def stored() -> dict[int, dict]:
    return {int(n): numbers for n, numbers in json.loads(NUMBERS.read_text()).items()}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_page_shows_the_prose_of_every_lesson_filled_with_the_stored_numbers(lang):
    page = PAGES[lang].read_text()
    numbers = stored()
    assert sorted(numbers) == sorted(LESSONS)
    for n, lesson in LESSONS.items():
        shown = blocks(lesson.text[lang], numbers[n], run=lambda k: "", figure=lambda k: "")
        missing = [block for block in shown if block and block not in page]
        assert missing == [], f"lesson {n} ({lang}): regenerate with docs/make_tutorial.py"
        assert f"## {'Lesson' if lang == 'en' else '수업'} {n}: {lesson.title[lang]}\n" in page
        for idea in lesson.ideas:
            shown = fill(idea.shown[lang], numbers[n])
            assert f"| {idea.name[lang]} | `nncli lessons run {n}` | {shown} |" in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_page_has_the_glossary_every_figure_and_a_link_to_the_other(lang):
    page = PAGES[lang].read_text()
    for ko, en, where, _ in GLOSSARY:
        row = (
            f"| {en} | {ko} | {where[lang]} |"
            if lang == "en"
            else f"| {ko} | {en} | {where[lang]} |"
        )
        assert row in page, row
    shown = set(re.findall(r"\]\(tutorial/([\w.-]+\.png)\)", page))
    assert shown == {p.name for p in (ROOT / "docs/tutorial").glob("*.png")}
    other = {"en": "tutorial.ko.md", "ko": "tutorial.md"}[lang]
    assert f"]({other})" in page.split("\n## ")[0]  # in its first screen


def test_the_glossary_names_every_term_of_the_notes_and_the_readme_links_both_pages():
    terms = {ko for ko, *_ in GLOSSARY}
    assert [t for t in TERMS if not any(row.startswith(t) for row in terms)] == []
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:40])
    assert "docs/tutorial.md" in first_screen and "docs/tutorial.ko.md" in first_screen


def drift(fresh: object, shown: object, path: str = "") -> list[str]:
    """Where `fresh` differs from `shown` by more than 1e-3 relative (0 and None exactly)."""
    if isinstance(shown, dict):
        return [
            d for k in shown if k not in MEASURED for d in drift(fresh[k], shown[k], f"{path}.{k}")
        ]
    if isinstance(shown, list):
        if not isinstance(fresh, list) or len(fresh) != len(shown):
            return [f"{path}: {fresh} against {shown}"]
        return [d for i, (a, b) in enumerate(zip(fresh, shown, strict=True))
                for d in drift(a, b, f"{path}[{i}]")]  # fmt: skip
    if isinstance(shown, float) and isinstance(fresh, int | float):
        return (
            [] if math.isclose(fresh, shown, rel_tol=1e-3) else [f"{path}: {fresh} against {shown}"]
        )
    return [] if fresh == shown else [f"{path}: {fresh} against {shown}"]


def test_drift_sees_a_number_that_moved_and_none_that_did_not():
    shown = {"a": 0.5, "b": [1.0, 2.0], "c": {"x": 3.0}, "seconds": [1.0], "n": 3}
    assert drift(json.loads(json.dumps(shown)) | {"seconds": [9.0]}, shown) == []
    assert drift(shown | {"a": 0.5004}, shown) == []
    assert drift(shown | {"a": 0.5006}, shown) == [".a: 0.5006 against 0.5"]
    assert drift(shown | {"b": [1.0, 2.01]}, shown) == [".b[1]: 2.01 against 2.0"]
    assert drift(shown | {"n": 4}, shown) == [".n: 4 against 3"]


# Lessons 1 (the quickest) and 6 (the metrics, with a `predict` step's rows and the deep sigmoid
# network): together about 25 s of CPU; docs/make_tutorial.py checks every lesson's claims.
@pytest.mark.slow
@pytest.mark.parametrize("number", [1, 6])
def test_a_fresh_run_gives_the_numbers_the_pages_show(tmp_path, number):
    done = subprocess.run(
        [sys.executable, "-m", "nncli", "lessons", "run", str(number), "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout)["numbers"]
    assert drift(fresh, stored()[number]) == []

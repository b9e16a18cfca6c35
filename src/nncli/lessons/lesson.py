"""What a lesson is: its commands, how its numbers are read from what they wrote, the claims
those numbers must bear out, and its explanation in each language as a template they fill."""

from __future__ import annotations

import csv
import json
import os
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nncli.errors import DamagedFileError, UsageError

LANGUAGES = ("en", "ko")
Text = dict[str, str]  # language -> text


@dataclass(frozen=True)
class Step:
    """One nncli command of a lesson. In `command` (what follows `nncli`), `{configs}` and
    `{data}` stand for the shipped folders, `{runs}` for the lesson's own folder and `{out}` for
    the step's run folder in it, `{runs}/KEY`."""

    key: str
    command: str
    after: tuple[str, ...] = ()  # steps whose run folders it reads (evaluate: the train step's)
    json: bool = False  # its numbers are what `--json` prints (evaluate writes no file)
    cost: float = 1.0  # seconds, roughly, on one CPU: the longest start first


@dataclass(frozen=True)
class Figure:
    """A figure a step draws (`file` in its run folder), shown as `name` in docs/tutorial/."""

    step: str
    file: str
    name: str
    alt: Text


@dataclass(frozen=True)
class Idea:
    """An idea of the course notes and, as a template, the number that shows it."""

    name: Text
    shown: Text


@dataclass(frozen=True)
class Lesson:
    """One lesson: the `text` templates hold `[[run KEY]]` where a step's command goes,
    `[[figure NAME]]` where a figure goes, and `{number:format}` fields `numbers` fills."""

    number: int
    slug: str  # its folder's name after the number: `1-perceptron`
    title: Text
    steps: tuple[Step, ...]
    figures: tuple[Figure, ...]
    numbers: Callable[[Runs], dict]
    claims: Callable[[dict], list[tuple[bool, str]]]  # (holds, what is claimed)
    text: Text
    ideas: tuple[Idea, ...]

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)


class Runs:
    """What a lesson's commands wrote (in `root`, its `{runs}` folder) and printed (`printed`,
    by step: the JSON of a `json` step), for its `numbers` to read."""

    def __init__(self, root: Path, printed: dict[str, str]):
        self.root = root
        self._printed = printed

    def json(self, path: str) -> dict:
        try:
            return json.loads((self.root / path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DamagedFileError(f"{self.root / path}: cannot be read ({exc})") from None

    def history(self, path: str) -> list[dict[str, float]]:
        with (self.root / path).open(encoding="utf-8") as handle:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]

    def printed(self, key: str) -> dict:
        try:
            return json.loads(self._printed[key])
        except (KeyError, ValueError) as exc:
            raise DamagedFileError(f"{key}: printed no JSON ({exc})") from None


def by_value(summary: dict, key: str) -> dict:
    """A sweep's records by the value of its varied `key`."""
    return {r["values"][key]: r for r in summary["results"]}


def mean(record: dict, split: str, metric: str) -> float | None:
    return record["metrics"][split][metric]["mean"]


class _Formatter(string.Formatter):
    """Fields as `format` writes them; a list is its items joined by commas (a matrix, a list of
    lists, is bracketed: `[[0, 75], [0, 75]]`), None `undefined`."""

    def format_field(self, value: object, format_spec: str) -> str:
        if isinstance(value, list | tuple):
            if any(isinstance(v, list | tuple) for v in value):
                rows = (f"[{self.format_field(v, format_spec)}]" for v in value)
                return "[" + ", ".join(rows) + "]"
            return ", ".join(self.format_field(v, format_spec) for v in value)
        if value is None:
            return "undefined"
        return format(value, format_spec)


_FORMATTER = _Formatter()
_MARKER = re.compile(r"^\[\[(run|figure) ([\w.-]+)\]\]$")


def fill(template: str, numbers: dict) -> str:
    """A template with its `{fields}` filled from `numbers`."""
    return _FORMATTER.format(template, **numbers)


def blocks(
    template: str,
    numbers: dict,
    *,
    run: Callable[[str], str],
    figure: Callable[[str], str],
) -> list[str]:
    """A lesson's text as blocks (paragraphs, headings), its markers replaced by what `run`
    (a step's key) and `figure` (a figure's name) give, its fields filled from `numbers`."""
    out = []
    for block in template.strip().split("\n\n"):
        marker = _MARKER.match(block.strip())
        if marker is None:
            out.append(fill(block.strip(), numbers))
        else:
            kind, name = marker.groups()
            out.append(run(name) if kind == "run" else figure(name))
    return out


def language(chosen: str | None) -> str:
    """--lang, else Korean where the locale is Korean (LC_ALL, LC_MESSAGES, LANG, the first set
    as the C library reads them), else English."""
    if chosen is not None:
        if chosen not in LANGUAGES:
            raise UsageError(f"--lang: one of {', '.join(LANGUAGES)}, got {chosen!r}")
        return chosen
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


# The words a lesson's printout puts around its text.
WORDS: dict[str, Text] = {
    "lesson": {"en": "Lesson", "ko": "수업"},
    "figure": {"en": "figure", "ko": "그림"},
    "ideas": {"en": "ideas", "ko": "개념"},
    "report": {
        "en": "Every table and figure of a run folder, on one page: nncli report FOLDER",
        "ko": "실행 폴더의 모든 표와 그림을 한 페이지로 보기: nncli report 폴더",
    },
    "folder": {"en": "run folders in", "ko": "실행 폴더 위치:"},
    "run": {"en": "running", "ko": "실행 중"},
}

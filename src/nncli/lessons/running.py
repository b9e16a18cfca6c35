"""Running lessons: their commands planned with the folders they use, run (several at once), and
their numbers read and checked. `nncli lessons run` runs one; docs/make_tutorial.py all six."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nncli.errors import RunFailedError, UsageError, WriteError, printable
from nncli.lessons.lesson import Lesson, Runs
from nncli.lessons.runner import Command, Done, errors_of, run_commands

# The shipped configs and data the lessons train on, beside the package in a source checkout.
REPOSITORY = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Places:
    """How a lesson's commands name the shipped `configs` and `data` folders and the lesson's
    own folder (`runs`), as typed from `cwd`."""

    configs: str
    data: str
    runs: str
    cwd: Path

    @classmethod
    def here(cls, runs: Path, cwd: Path) -> Places:
        """From `cwd` (where the user is): the repository's folders as short as they can be."""
        configs, data = shipped()
        return cls(_typed(configs, cwd), _typed(data, cwd), str(runs), cwd)


def shipped() -> tuple[Path, Path]:
    """The repository's configs/ and data/ folders, or a UsageError if this copy has none."""
    configs, data = REPOSITORY / "configs", REPOSITORY / "data"
    if not (configs.is_dir() and data.is_dir()):
        raise UsageError(
            f"the lessons train on nncli's configs/ and data/ folders, not found in"
            f" {printable(REPOSITORY)}: run them from a source checkout (make demo)"
        )
    return configs, data


def _typed(path: Path, cwd: Path) -> str:
    """`path` relative to `cwd` where it is inside it, else absolute."""
    try:
        return str(path.relative_to(cwd.resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class LessonRun:
    """A lesson, run: its commands as they ran, its numbers, the claims that did not hold."""

    lesson: Lesson
    places: Places
    commands: dict[str, Command]  # by step key
    results: dict[str, Done]
    numbers: dict
    failed: list[str]

    def output(self, key: str) -> str:
        return self.results[key].output

    def figure_path(self, name: str) -> str:
        figure = self.lesson.figure(name)
        return f"{self.places.runs}/{figure.step}/{figure.file}"

    def to_json(self, lang: str) -> dict:
        """What `nncli lessons run N --json` prints."""
        lesson = self.lesson
        return {
            "lesson": lesson.number,
            "title": lesson.title[lang],
            "lang": lang,
            "folder": self.places.runs,
            "commands": [
                {"step": key, "command": c.shown, "exit_code": self.results[key].code}
                for key, c in self.commands.items()
            ],
            "numbers": self.numbers,
            "figures": [
                {"path": self.figure_path(f.name), "about": f.alt[lang]} for f in lesson.figures
            ],
            "claims_failed": self.failed,
        }


def plan(lesson: Lesson, places: Places) -> dict[str, Command]:
    """A lesson's steps as the command lines they run, by key (a `json` step's also as `KEY:json`,
    with `--json`, for its numbers)."""
    fields = {"configs": places.configs, "data": places.data, "runs": places.runs}
    commands = {}
    for step in lesson.steps:
        # Split before filling in, so that a folder with spaces in its name stays one argument.
        out = f"{places.runs}/{step.key}"
        argv = tuple(part.format(**fields, out=out) for part in step.command.split())
        key = f"{lesson.number}/{step.key}"
        after = tuple(f"{lesson.number}/{a}" for a in step.after)
        commands[step.key] = Command(key, argv, places.cwd, after, cost=step.cost)
        if step.json:
            commands[f"{step.key}:json"] = Command(
                f"{key}:json", (*argv, "--json"), places.cwd, after, json=True, cost=step.cost
            )
    return commands


def claim_folder(out: Path, lesson: Lesson) -> Path:
    """A new folder for a lesson's runs in `out`: `N-slug`, or `N-slug-2`, ... if taken."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(
            f"--out {printable(out)}: cannot make the folder ({exc.strerror})"
        ) from None
    base = f"{lesson.number}-{lesson.slug}"
    for n in range(1, 10_000):
        folder = out / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()  # atomic: two lessons started at once never share a folder
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(
                f"{printable(folder)}: cannot make the folder ({exc.strerror})"
            ) from None
    raise UsageError(f"--out {printable(out)}: holds 9,999 runs of lesson {lesson.number} already")


def run_lessons(
    lessons: Sequence[tuple[Lesson, Places]],
    *,
    entry: Callable[[], None],
    workers: int | None = None,
    extra: Sequence[Command] = (),
    on_start: Callable[[Command], None] | None = None,
    on_done: Callable[[Done], None] | None = None,
) -> tuple[list[LessonRun], dict[str, Done]]:
    """Run every step of `lessons` (and the `extra` commands), `workers` at a time (default: a
    CPU each; `on_start`, `on_done` hear of each), then read each lesson's numbers and check its
    claims. A command that fails stops it with `RunFailedError` naming the command and its last
    words."""
    planned = [(lesson, places, plan(lesson, places)) for lesson, places in lessons]
    commands = [c for _, _, p in planned for c in p.values()] + list(extra)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    with tempfile.TemporaryDirectory(prefix="nncli-lessons-") as scratch:
        done = run_commands(commands, entry=entry, workers=workers, scratch=Path(scratch),
                            on_start=on_start, on_done=on_done)  # fmt: skip
        for result in done.values():
            if result.code != 0:
                said = (
                    result.output if not result.command.json else errors_of(Path(scratch), result)
                )
                last = [line for line in said.splitlines() if line.strip()][-3:]
                raise RunFailedError(
                    f"{result.command.shown} exited {result.code}"
                    + "".join(f"\n  {printable(line)}" for line in last)
                )
    runs = []
    for lesson, places, commands_of in planned:
        results = {step: done[c.key] for step, c in commands_of.items()}
        printed = {step.removesuffix(":json"): r.output for step, r in results.items()
                   if r.command.json}  # fmt: skip
        numbers = lesson.numbers(Runs(places.cwd / places.runs, printed))
        failed = [claim for holds, claim in lesson.claims(numbers) if not holds]
        shown = {k: c for k, c in commands_of.items() if not c.json}
        runs.append(LessonRun(lesson, places, shown, results, numbers, failed))
    return runs, done

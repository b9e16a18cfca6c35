"""`nncli lessons`: the course notes' six lessons listed, and `nncli lessons run N` running one
through the real commands, its explanation printed in English or Korean with its numbers."""

from __future__ import annotations

import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from nncli.cli.options import Command, Group, JsonOption, out_option
from nncli.errors import RunFailedError, printable
from nncli.fileio import to_json


class Lang(str, Enum):
    en = "en"
    ko = "ko"


LangOption = Annotated[
    Lang | None,
    typer.Option(
        "--lang",
        help="en or ko [default: ko where the locale (LC_ALL, LC_MESSAGES, LANG) is Korean, else"
        " en]",
        show_default=False,
    ),
]


class LessonsGroup(Group):
    """`lessons` in `nncli --help`'s list: its whole first sentence, as every command's."""

    get_short_help_str = Command.get_short_help_str


lessons = typer.Typer(cls=LessonsGroup, invoke_without_command=True, add_completion=False,
                      rich_markup_mode=None)  # fmt: skip


ListJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print exactly one JSON list on stdout: each lesson's number, title, ideas and"
        " command.",
    ),
]


@lessons.callback()
def list_lessons(
    ctx: typer.Context, lang: LangOption = None, as_json: ListJsonOption = False
) -> None:
    """The course notes' six lessons, each one command: `nncli lessons run N`.

    Lists each lesson's number, title and the ideas of the notes it shows."""
    if ctx.invoked_subcommand is not None:
        return
    from nncli.lessons.catalog import LESSONS
    from nncli.lessons.lesson import WORDS, language

    chosen = language(lang.value if lang else None)
    rows = [
        {"lesson": n, "title": lesson.title[chosen],
         "ideas": [idea.name[chosen] for idea in lesson.ideas],
         "command": f"nncli lessons run {n}"}
        for n, lesson in LESSONS.items()
    ]  # fmt: skip
    if as_json:
        print(to_json(rows))
        return
    for row in rows:
        typer.echo(f"{row['lesson']}. {row['title']}")
        typer.echo(f"   {WORDS['ideas'][chosen]}: {', '.join(row['ideas'])}")
    typer.echo("nncli lessons run N [--lang ko|en]")


@lessons.command("run", cls=Command)
def run_lesson(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(metavar="N", help="The lesson's number (1 to 6).")],
    lang: LangOption = None,
    out: Annotated[
        Path,
        out_option(
            "Where the lesson's folder goes (N-name, or N-name-2 ... if taken; never overwritten)."
        ),
    ] = Path("lessons"),
    as_json: JsonOption = False,
) -> None:
    """Run lesson N's commands and print what they show, with their numbers and figures.

    Its run folders go in a new folder under --out; each command is printed as it ran, to be
    typed again."""
    from nncli.lessons.catalog import find
    from nncli.lessons.lesson import WORDS, blocks, language
    from nncli.lessons.running import Places, claim_folder, run_lessons, shipped

    lesson = find(number)
    chosen = language(lang.value if lang else None)
    shipped()
    folder = claim_folder(out, lesson)
    places = Places.here(folder, Path.cwd())

    def started(command) -> None:
        if not as_json:
            typer.echo(f"{WORDS['run'][chosen]}: {printable(command.shown)}", err=True)

    entry = ctx.find_root().obj["entry"]  # nncli.cli.entry, handed down by the root
    (run,), _ = run_lessons([(lesson, places)], entry=entry, on_start=started)
    if as_json:
        print(to_json(run.to_json(chosen)))
    if run.failed:
        raise RunFailedError(
            f"lesson {number}: what it shows did not hold on this run: {'; '.join(run.failed)}"
            f" (its runs are in {printable(folder)})"
        )
    if as_json:
        return

    def command(key: str) -> str:
        notes = [f"  {line}" for line in run.output(key).splitlines()
                 if line.startswith(("warning:", "note:"))]  # fmt: skip
        return "\n".join([f"$ {run.commands[key].shown}", *notes])

    def figure(name: str) -> str:
        about = lesson.figure(name).alt[chosen]
        return f"{WORDS['figure'][chosen]}: {run.figure_path(name)} ({about})"

    title = f"{WORDS['lesson'][chosen]} {number}: {lesson.title[chosen]}"
    typer.echo(title)
    typer.echo("=" * len(title))
    for block in blocks(lesson.text[chosen], run.numbers, run=command, figure=figure):
        typer.echo(printable(block if block.startswith("$") else _one_line(block)))
        typer.echo()
    typer.echo(f"{WORDS['folder'][chosen]} {printable(folder)}")
    typer.echo(WORDS["report"][chosen])
    sys.stdout.flush()


def _one_line(block: str) -> str:
    """A paragraph of the template as one line (the terminal wraps it); a heading's #s dropped."""
    return re.sub(r"^#+ ", "", " ".join(line.strip() for line in block.splitlines()))

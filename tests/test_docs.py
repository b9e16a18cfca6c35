"""The documentation's claims that can be checked mechanically."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_named_in_the_errors_table_exists():
    text = (ROOT / "docs/errors.md").read_text()
    named = set(re.findall(r"`(tests/test_\w+\.py)::(test_\w+)`", text))
    assert len(named) > 30
    functions = {}  # module -> its function names, each module parsed once
    for module, name in sorted(named):
        if module not in functions:
            tree = ast.parse((ROOT / module).read_text())
            functions[module] = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in functions[module], f"{module}::{name} is named in docs/errors.md but missing"


def test_readme_metrics_table_quotes_each_registry_note_in_order():
    from nncli.metrics import METRICS

    section = (ROOT / "README.md").read_text().split("## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.*) \|$", section, flags=re.M)
    assert rows == [(name, spec.note) for name, spec in METRICS.items()]


def test_the_architecture_page_lists_every_module():
    text = (ROOT / "docs/architecture.md").read_text()
    modules = sorted(
        p.name for p in (ROOT / "src/nncli").glob("*.py") if not p.name.startswith("_")
    )
    assert [m for m in modules if f"`{m}`" not in text] == []


def test_the_tutorial_names_real_tests_and_shows_every_figure_it_ships():
    text = (ROOT / "docs/tutorial.md").read_text()
    tree = ast.parse((ROOT / "tests/test_lessons.py").read_text())
    lessons = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    named = set(re.findall(r"`tests/test_lessons\.py::(test_\w+)`", text))
    assert named == {name for name in lessons if name.startswith("test_lesson")}
    shown = set(re.findall(r"\]\(tutorial/([\w.-]+\.png)\)", text))
    shipped = {p.name for p in (ROOT / "docs/tutorial").glob("*.png")}
    assert shown == shipped  # none missing, none left over from an older page
    for name in shipped:
        assert (ROOT / "docs/tutorial" / name).stat().st_size < 100_000, name
    assert "docs/tutorial.md" in (ROOT / "README.md").read_text()

"""The documentation's claims that can be checked mechanically."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import yaml

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


def test_the_metrics_page_quotes_each_registry_note_in_order():
    from nncli.metrics import METRICS

    section = (ROOT / "docs/metrics.md").read_text().split("# Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.*) \|$", section, flags=re.M)
    assert rows == [(name, spec.note) for name, spec in METRICS.items()]


def _described_modules() -> list[str]:
    """Every module and package of src/nncli as docs/architecture.md names them: `errors.py`,
    `config/`, `config/schema.py`; a package's `__init__.py` only where it holds more than its
    docstring (`cli/__init__.py`, the command table)."""
    source = ROOT / "src/nncli"
    names = [
        f"{p.relative_to(source)}/"
        for p in sorted(source.iterdir())
        if (p / "__init__.py").exists()
    ]
    for path in sorted(source.rglob("*.py")):
        body = ast.parse(path.read_text()).body
        if path.name.startswith("_") and (path.parent == source or len(body) <= 1):
            continue
        names.append(str(path.relative_to(source)))
    return names


def test_the_architecture_page_lists_every_module():
    text = (ROOT / "docs/architecture.md").read_text()
    modules = _described_modules()
    assert {"config/", "config/schema.py", "errors.py", "cli/__init__.py"} <= set(modules)
    assert [m for m in modules if f"`{m}`" not in text] == []


def _load_config_reference():
    spec = importlib.util.spec_from_file_location(
        "make_config_reference", ROOT / "docs/make_config_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_config_reference_is_what_the_schema_gives():
    page = (ROOT / "docs/config.md").read_text()
    expected = _load_config_reference().render(page)
    assert page == expected, "docs/config.md is out of date: run docs/make_config_reference.py"


def test_the_config_reference_lists_every_key_nncli_config_prints():
    from nncli.config.loading import validate_config
    from nncli.config.schema import dump_config

    full = {"data": {"source": "moons"}, "training": {"early_stopping": {}},
            "tracking": {"mlflow": {}}}  # fmt: skip
    dumped = yaml.safe_load(dump_config(validate_config(full)))

    def dotted(node: dict, prefix: str = "") -> list[str]:
        keys = []
        for name, value in node.items():
            keys.append(prefix + name)
            if isinstance(value, dict) and prefix + name != "training.class_weight":
                keys.extend(dotted(value, f"{prefix}{name}."))
        return keys

    section = (ROOT / "docs/config.md").read_text().split("## Every key\n", 1)[1]
    listed = re.findall(r"^\| `([\w.]+)` \|", section, flags=re.M)
    assert listed == dotted(dumped)  # every key once, in the order `nncli config` prints them
    assert "training.early_stopping.monitor" not in listed  # read nowhere, so gone
    assert "| key | default | meaning |" not in (ROOT / "README.md").read_text()


def _anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces -."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_in_the_readme_and_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists() or (
                anchor and linked.suffix == ".md" and anchor not in _anchors(linked.read_text())
            ):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_readme_is_a_short_read_that_keeps_the_set_up_and_test_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "make demo" in readme and "make test" in readme  # the CI script runs `make test`
    assert "torch==2.13.0" in readme
    from nncli.cli import COMMANDS

    shown = set(re.findall(r"^nncli ([\w-]+)", readme, flags=re.M))
    assert shown == set(COMMANDS)  # one example per command, and none that does not exist


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

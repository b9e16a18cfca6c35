"""Reading a YAML file safely, and nothing else of the config: `yaml.safe_load` after refusing
what a hostile file could cost (alias bombs, deep nesting, keys given twice, a file that is not a
bounded regular file), every problem one line naming the file (or the option), line and column.
Without pydantic or the schema, so that `nncli runs` reads a folder's config.yaml without
importing them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nncli.errors import UsageError, clipped
from nncli.fileio import MiB, read_regular_bytes

CONFIG_LIMIT = 1 * MiB  # larger config files are refused unread


def read_yaml_mapping(
    path: Path, *, follow_symlinks: bool = True, what: str = "config"
) -> dict[str, Any]:
    """Parse a YAML file with `yaml.safe_load`; errors name the file, line and column, and call
    it `what` (a config; a search space is empty as {}, its reader saying what it needs).

    Anything but a regular file of at most CONFIG_LIMIT bytes is refused unread (a FIFO would
    hang the read, /dev/zero never end it).
    """
    data = read_regular_bytes(
        path, limit=CONFIG_LIMIT, what=f"{what} file", follow_symlinks=follow_symlinks
    )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc}") from None
    raw = yaml_document(text, str(path))
    if raw is None and what == "config":
        raise UsageError(f"{path}: config is empty; it needs at least a data section")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        shape = "a mapping of sections" if what == "config" else "a mapping"
        raise UsageError(f"{path}: {what} must be {shape}, got {type(raw).__name__}")
    return raw


# Real configs nest four levels deep and hold a few dozen values (thousands with a long
# data.ignore_columns); these bound what a hostile file can cost: a 500-byte "billion laughs"
# of nested aliases expands to 10^9 nodes.
MAX_YAML_DEPTH = 32
MAX_YAML_NODES = 100_000


def yaml_document(text: str, where: str) -> Any:
    """`parse_yaml(text)` with every problem a UsageError naming `where` (a file), the line and
    the column."""
    try:
        return parse_yaml(text, where)
    except yaml.MarkedYAMLError as exc:
        raise UsageError(_marked_problem(exc, where)) from None
    except yaml.reader.ReaderError as exc:  # its own message names no file and spans two lines
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        raise UsageError(
            f"{where}:{line}:{column}: character U+{exc.character:04X} is not allowed in YAML"
        ) from None
    except yaml.YAMLError as exc:
        detail = clipped(" ".join(str(exc).split()), 200)
        raise UsageError(f"{where}: invalid YAML: {detail}") from None


def _marked_problem(exc: yaml.MarkedYAMLError, where: str) -> str:
    """One line: the place and what is wrong there. A quote or bracket left open is named where
    it opens (its `context_mark`), not where the reader gave up (the end of the file)."""

    def at(mark: Any) -> str:
        return f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where

    problem = exc.problem or exc.context or "invalid YAML"
    context, opened = exc.context or "", exc.context_mark
    if isinstance(exc, yaml.constructor.ConstructorError):
        if "unhashable key" in problem:  # `? [a, b]`, `{[1]: x}`
            return f"{at(exc.problem_mark)}: a key must be a plain name, not a list or mapping"
        return f"{at(exc.problem_mark)}: YAML tag not allowed ({problem})"
    if opened is not None and context.startswith("while scanning a quoted scalar"):
        return f"{at(opened)}: this quoted value is never closed ({problem})"
    mark = exc.problem_mark or opened
    if opened is not None and mark is not None and opened.line != mark.line:
        return f"{at(mark)}: {problem} ({context} at line {opened.line + 1})"
    return f"{at(mark)}: {problem}"


def parse_yaml(text: str, where: str) -> Any:
    """`yaml.safe_load(text)`, after refusing alias bombs, recursive aliases, deep nesting and
    keys given twice (UsageErrors naming `where`, a file or `--set KEY`, and the line); what
    is not YAML raises yaml's own error."""
    _check_yaml_shape(text, where)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        _refuse_duplicate_keys(node, where)
        return None if node is None else loader.construct_document(node)
    except ValueError as exc:  # a date such as 2020-13-45, an integer of 5000 digits
        raise UsageError(f"{where}: cannot read a value: {clipped(str(exc), 100)}") from None
    finally:
        loader.dispose()


def _check_yaml_shape(text: str, where: str) -> None:
    """Count, on the parser's events (read without recursion, before anything is built), the
    nodes the document expands to, an alias counting its anchor's nodes again, and the depth."""
    sizes: dict[str, int] = {}  # anchor -> the nodes it expands to
    open_nodes: list[list] = []  # collections being read: [anchor, nodes so far]
    total, aliased = 0, False
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        where_line = f"{where}:{event.start_mark.line + 1}:{event.start_mark.column + 1}"
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = size
            if open_nodes:
                open_nodes[-1][1] += size
            continue
        if isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                raise UsageError(f"{where_line}: YAML alias *{clipped(event.anchor)} refers to"
                                 " a node that contains it")  # fmt: skip
            size = sizes.get(event.anchor, 1)  # an undefined one is the composer's to report
            aliased = True
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) == MAX_YAML_DEPTH:
                raise UsageError(f"{where_line}: nested deeper than {MAX_YAML_DEPTH} levels")
            open_nodes.append([event.anchor, 1])
            size = 0  # counted with its parent when it ends
            total += 1
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        else:
            continue
        total += size
        if open_nodes and size:
            open_nodes[-1][1] += size
        if total > MAX_YAML_NODES:
            what = "YAML aliases expand to" if aliased else "the YAML holds"
            raise UsageError(f"{where_line}: {what} more than {MAX_YAML_NODES:,} nodes")


def _refuse_duplicate_keys(node: yaml.Node | None, path: str) -> None:
    """A key given twice would silently keep the last value: refuse it, naming the line."""
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    line, column = key.start_mark.line + 1, key.start_mark.column + 1
                    raise UsageError(f"{path}:{line}:{column}: key '{key.value}' appears twice")
                seen.add(key.value)
            _refuse_duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, path)

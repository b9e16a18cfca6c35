"""Fonts for figure text in any script: Latin in matplotlib's own font, as it always was, and
each character that font lacks (Hangul, kana, Han) in a fallback that has it, glyph by glyph.

The fallbacks are the NanumGothic files of the `korean` extra (`koreanize-matplotlib`, whose
fonts are registered without importing it: its import rewrites matplotlib's settings), then
whichever known CJK families matplotlib's font cache already lists. A figure whose text still
has characters no font covers is drawn with boxes for them, and the process says so once, in
one line naming what to install, instead of matplotlib's warning per glyph.
"""

from __future__ import annotations

import contextlib
import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

EXTRA_PACKAGE = "koreanize_matplotlib"  # the `korean` extra; its fonts are in fonts/
EXTRA_HINT = "pip install 'nncli[korean]'"
# System families with Hangul (and most with kana and Han), looked up by name in the font cache
# matplotlib already keeps: opening every installed font to read its glyphs would cost seconds.
SYSTEM_FALLBACKS = (
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Source Han Sans KR",
    "Source Han Sans K",
    "NanumGothic",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
    "AppleGothic",
    "UnDotum",
    "Baekmuk Gulim",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)
_MISSING = re.compile(r"Glyph (\d+) .*missing from font")


def extra_fonts() -> list[Path]:
    """The font files the `korean` extra installed, or none: found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(EXTRA_PACKAGE)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    folders = [Path(location) / "fonts" for location in spec.submodule_search_locations]
    return sorted(path for folder in folders if folder.is_dir() for path in folder.glob("*.ttf"))


class _State:
    families: list[str] | None = None  # what text is drawn with, once set up
    extra: bool = False  # the extra's fonts are registered
    warned: bool = False  # this process has said which characters no font has
    held: list[int] | None = None  # a drawing worker's missing characters, for its command


def setup() -> list[str]:
    """Once a process: register the extra's fonts and put every fallback family after
    matplotlib's own; the families text is drawn with, in order."""
    if _State.families is not None:
        return _State.families
    import matplotlib
    from matplotlib import font_manager

    registered = set()
    for path in extra_fonts():
        with contextlib.suppress(OSError, RuntimeError, ValueError):  # a broken file: skip it
            font_manager.fontManager.addfont(str(path))
            registered.add(font_manager.FontProperties(fname=str(path)).get_name())
    _State.extra = bool(registered)
    known = {font.name for font in font_manager.fontManager.ttflist}
    fallbacks = sorted(registered) + [
        name for name in SYSTEM_FALLBACKS if name in known and name not in registered
    ]
    own = [family for family in matplotlib.rcParams["font.family"] if family not in fallbacks]
    families = [*own, *fallbacks]
    matplotlib.rcParams["font.family"] = _State.families = families
    return families


@contextlib.contextmanager
def glyphs_watched() -> Iterator[None]:
    """Draw inside: matplotlib's warnings about glyphs no font has become one line for the
    whole process (`warn_missing`); any other warning passes on as it came."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        yield
    missing = []
    for warning in caught:
        found = _MISSING.search(str(warning.message))
        if found:
            missing.append(int(found.group(1)))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    if missing:
        warn_missing(missing)


def hold_warnings() -> None:
    """In a drawing worker: keep missing characters for `held` instead of saying so, so that
    the command says it once for all its workers."""
    _State.held = []


def held() -> list[int]:
    """The characters a worker drew as boxes since the last call."""
    codepoints, _State.held = _State.held or [], []
    return codepoints


def warn_missing(codepoints: list[int]) -> None:
    """Once a process: which characters figures drew as boxes, and how to get a font."""
    if _State.held is not None:
        _State.held.extend(codepoints)
        return
    if _State.warned:
        return
    _State.warned = True
    character = f"U+{codepoints[0]:04X} {unicodedata.name(chr(codepoints[0]), '')}".strip()
    fix = "install a system font that has them (e.g. Noto Sans CJK)"
    if not _State.extra:
        fix = f"for Korean, {EXTRA_HINT}; for other scripts, {fix}"
    print(
        f"warning: figures show boxes for characters no font has (such as {character}): {fix}",
        file=sys.stderr,
    )

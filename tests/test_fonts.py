"""Figure text in Korean (report/fonts.py): drawn with a font that has every glyph, Latin text
as before; without such a font, boxes and one line saying how to get one."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from nncli.report import fonts, learned, plots

HISTORY = [
    {"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "val_accuracy": e / 9}
    for e in range(5)
]


def draw_korean(folder: Path) -> None:
    """A learning-curve figure and a decision-boundary figure, titles, axes and legend in
    Korean, written as PNG."""
    history = [{**row, "train_accuracy": row["val_accuracy"]} for row in HISTORY]
    plots.plot_learning_curves(
        folder / "curves.png",
        history,
        title="달 모양: 학습 곡선",
        loss_name="손실",
        metric="accuracy",
        kept_epoch=3,
    )
    x = np.random.default_rng(0).uniform(-3, 3, size=(100, 2))
    learned.plot_decision_boundaries(
        folder / "boundaries.png",
        *learned.boundary_regions([("lr=0.1", lambda g: np.eye(2)[(g[:, 0] > 0).astype(int)])], x),
        x,
        (x[:, 0] > 0).astype(int),
        title="결정 경계",
        feature_names=["꽃잎 길이", "꽃잎 너비"],
        classes=["고양이", "개"],
    )


def glyphs_no_font_has(text) -> list[str]:
    """The characters of a matplotlib Text that none of the fonts it is drawn with has, each
    font looked up by family and each glyph read from the font file."""
    from matplotlib import font_manager

    props = text.get_fontproperties()
    faces = []
    for family in props.get_family():
        wanted = font_manager.FontProperties(
            family=family, weight=props.get_weight(), style=props.get_style()
        )
        try:
            path = font_manager.findfont(wanted, fallback_to_default=False)
        except ValueError:  # a family that is not installed
            continue
        faces.append(font_manager.get_font(path))
    return [
        c
        for c in text.get_text()
        if not c.isspace() and not any(face.get_char_index(ord(c)) for face in faces)
    ]


def test_korean_labels_are_drawn_with_a_font_that_has_every_glyph(tmp_path, monkeypatch, capsys):
    if not fonts.extra_fonts():
        pytest.skip("the korean extra is not installed: pip install 'nncli[korean]'")
    saved = []
    save = plots.save_figure
    monkeypatch.setattr(
        plots, "save_figure", lambda fig, path: (saved.append(fig), save(fig, path))
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw_korean(tmp_path)
    assert [str(w.message) for w in caught] == []
    assert capsys.readouterr().err == ""
    assert len(saved) == 2 and all(p.stat().st_size > 0 for p in tmp_path.glob("*.png"))
    from matplotlib.text import Text

    texts = [t for fig in saved for t in fig.findobj(Text)]
    korean = [t for t in texts if any("\uac00" <= c <= "\ud7a3" for c in t.get_text())]
    assert {t.get_text() for t in korean} >= {"고양이", "개", "꽃잎 길이", "결정 경계", "손실"}
    for text in korean:
        assert glyphs_no_font_has(text) == [], text.get_text()
    # Latin text keeps matplotlib's own font first: the fallbacks only fill in what it lacks.
    assert plots.pyplot().rcParams["font.family"][0] == "sans-serif"


FALLBACK = """
import sys
from pathlib import Path
from nncli.report import fonts
fonts.extra_fonts = lambda: []  # neither the extra nor a system font with Hangul
fonts.SYSTEM_FALLBACKS = ()
sys.path.insert(0, {tests!r})
from test_fonts import draw_korean
draw_korean(Path(sys.argv[1]))
draw_korean(Path(sys.argv[1]))
"""


@pytest.mark.slow
def test_without_a_font_for_them_one_line_says_how_to_get_one(tmp_path):
    program = FALLBACK.format(tests=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boundaries.png", "curves.png"]
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("warning: figures show boxes for characters no font has")
    assert "HANGUL SYLLABLE" in lines[0] and "pip install 'nncli[korean]'" in lines[0]


WORKERS = """
import sys
from pathlib import Path
from nncli.report import plots
from nncli.report.drawing import Drawer
sys.path.insert(0, {tests!r})
from test_fonts import HISTORY
history = [{{**row, "train_accuracy": row["val_accuracy"]}} for row in HISTORY]
with Drawer(2) as drawer:
    for i in range(4):
        drawer.draw(
            plots.plot_learning_curves, Path(sys.argv[1]) / f"{{i}}.png", history,
            title="नमस्ते", loss_name="loss", metric="accuracy", kept_epoch=3,
        )
    drawer.wait()
"""


@pytest.mark.slow
def test_figures_drawn_in_workers_say_it_once_for_the_command(tmp_path):
    # Devanagari: a script neither matplotlib's font nor the CJK fallbacks have, so every
    # worker draws boxes whatever fonts the machine holds.
    program = WORKERS.format(tests=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("*.png"))) == 4
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "U+0928 DEVANAGARI LETTER NA" in lines[0]

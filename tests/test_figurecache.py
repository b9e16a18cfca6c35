"""Figures that depend only on their inputs are drawn once and copied after (issue 20):
report/figurecache.py, through the real plot function and through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from nncli.report import figurecache, plots

DRAWN: list[Path] = []


def counted_plot(path: Path, text: str, *, size: int = 4) -> None:
    """A stand-in plot function: a PNG-signed file whose bytes depend on its inputs."""
    DRAWN.append(path)
    Path(path).write_bytes(figurecache.PNG_SIGNATURE + f"{text}:{size}".encode())


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    DRAWN.clear()
    monkeypatch.setenv(figurecache.CACHE_ENV, str(tmp_path / "cache"))


def test_the_same_inputs_are_drawn_once_and_copied_after(tmp_path):
    figurecache.reused(counted_plot, tmp_path / "a.png", "sigmoid", size=4)
    figurecache.reused(counted_plot, tmp_path / "b.png", "sigmoid", size=4)
    assert [tmp_path / "a.png"] == DRAWN
    assert (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()
    figurecache.reused(counted_plot, tmp_path / "c.png", "sigmoid", size=5)  # another input
    figurecache.reused(counted_plot, tmp_path / "d.png", "tanh", size=4)
    assert [tmp_path / "a.png", tmp_path / "c.png", tmp_path / "d.png"] == DRAWN
    assert (tmp_path / "d.png").read_bytes().endswith(b"tanh:4")


def test_an_empty_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv(figurecache.CACHE_ENV, "")
    for name in ("a", "b"):
        figurecache.reused(counted_plot, tmp_path / f"{name}.png", "relu")
    assert len(DRAWN) == 2 and not (tmp_path / "cache").exists()


def test_a_cache_that_cannot_be_written_or_holds_no_png_is_passed_by(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would be")
    monkeypatch.setenv(figurecache.CACHE_ENV, str(blocked))
    figurecache.reused(counted_plot, tmp_path / "a.png", "relu")
    figurecache.reused(counted_plot, tmp_path / "b.png", "relu")
    assert len(DRAWN) == 2 and (tmp_path / "b.png").read_bytes().endswith(b"relu:4")
    monkeypatch.setenv(figurecache.CACHE_ENV, str(tmp_path / "cache"))
    figurecache.reused(counted_plot, tmp_path / "c.png", "gelu")
    (cached,) = (tmp_path / "cache").iterdir()
    cached.write_bytes(b"not a png")  # damaged: drawn again, and stored again
    figurecache.reused(counted_plot, tmp_path / "d.png", "gelu")
    assert len(DRAWN) == 4 and cached.read_bytes().startswith(figurecache.PNG_SIGNATURE)


def test_the_key_follows_the_plot_functions_source(tmp_path, monkeypatch):
    curves = plots.activation_curves(["relu"])
    key = figurecache.figure_key(plots.plot_activations, (curves,), {})
    assert key == figurecache.figure_key(plots.plot_activations, (curves,), {})
    source = tmp_path / "plots.py"
    source.write_text(Path(plots.__file__).read_text() + "\n# changed\n")
    monkeypatch.setattr(plots, "__file__", str(source))
    assert figurecache.figure_key(plots.plot_activations, (curves,), {}) != key


def test_a_comparison_draws_its_activations_figure_once(tmp_path, tiny_moons):
    from typer.testing import CliRunner

    from nncli.cli import app

    def compare(out: Path) -> bytes:
        # Two activations, not all ten: the figure is cached the same way, each run costs less.
        args = ["compare-activations", str(tiny_moons), "--activations", "relu,tanh", "--seeds",
                "1", "--out", str(out), "-q"]  # fmt: skip
        result = CliRunner().invoke(app, [*args, "-s", "training.epochs=1"])
        assert result.exit_code == 0, result.output
        return (out / "activations.png").read_bytes()

    first = compare(tmp_path / "first")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    saved = []
    real = plots.save_figure
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "save_figure", lambda fig, path: (saved.append(path), real(fig, path)))
        assert compare(tmp_path / "second") == first
    assert saved and "activations.png" not in {Path(path).name for path in saved}

"""report.html: one self-contained page per run, sweep and comparison folder, with every figure
and metric; `nncli report` finds (or writes) it and opens it only where a browser is."""

from __future__ import annotations

import base64
import json
import webbrowser
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.app.commands import run_compare, run_sweep, run_train
from nncli.cli import app
from nncli.metrics import DETAILS
from nncli.report.html import build_report
from nncli.report.tables import format_value

runner = CliRunner()
VOID = {"meta", "img", "br", "hr", "link", "input"}


class Page(HTMLParser):
    """The parts of a page the tests look at; raises on a closing tag that closes nothing."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "img":
            self.images.append(found["src"])
        self.links += [v for k, v in attrs if k in ("href", "src") and "://" in (v or "")]
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parsed(folder: Path) -> Page:
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    assert page.open == [], f"unclosed: {page.open}"
    assert "script" not in page.tags and page.links == []  # no JavaScript, no network
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in page.images}
    for png in folder.glob("*.png"):
        assert png.read_bytes() in embedded, f"{png.name} is not on the page"
    assert len(page.images) == len(list(folder.glob("*.png")))
    setup = json.loads((folder / "run.json").read_text())["setup"]
    assert setup.splitlines()[0] in page.all_text  # the setup line, as printed
    assert "data:" in (folder / "config.yaml").read_text()
    assert (folder / "config.yaml").read_text() in page.all_text
    return page


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory) -> tuple[Path, dict]:
    """A small classification run's folder and summary, shared: the tests only read it (or
    write its report again)."""
    base = tmp_path_factory.mktemp("report")
    config = base / "moons.yaml"
    config.write_text(
        "data: {source: moons, n_samples: 200}\nmodel: {width: 8}\ntraining: {epochs: 4}\n"
    )
    return base / "run", run_train(config, [], out=base / "run").to_json()


def test_a_train_run_page_has_every_metric_per_class_score_and_confusion_count(moons_run):
    run, summary = moons_run
    page = parsed(run)
    text = page.all_text
    for split, scores in summary["metrics"].items():
        for name, value in scores.items():
            if name not in DETAILS:
                assert format_value(value, name) in text, (split, name)
        for row in scores["per_class"]:
            assert f"{row['f1']:.4f}" in text and str(row["support"]) in text
        cells = [c for row in scores["confusion_matrix"] for c in row]
        assert all(str(c) in text for c in cells)
        assert f"Confusion ({split})" in text
    assert f"best epoch {summary['best_epoch']}" in text


def test_a_binary_run_page_shows_its_roc_and_precision_recall_curves(moons_run):
    run, _ = moons_run
    text = parsed(run).all_text  # parsed: every PNG of the folder is on the page
    for figure in ("roc.png", "precision_recall.png"):
        assert (run / figure).read_bytes().startswith(b"\x89PNG")
        assert figure in text
    assert "The ROC curve" in text and "average precision" in text


def test_a_regression_run_page_shows_its_fit_and_errors(write_config, tmp_path):
    config = write_config(
        {
            "data": {"source": "sine", "n_samples": 120},
            "model": {"width": 8},
            "training": {"epochs": 3},
        }
    )
    summary = run_train(config, [], out=tmp_path / "run").to_json()
    page = parsed(tmp_path / "run")
    assert summary["metrics"]["test"]["mape"] is None
    assert "undefined" in page.all_text  # MAPE, where it has no meaning
    for figure in ("fit.png", "errors.png", "loss.png"):
        assert figure in page.all_text


@pytest.mark.parametrize("kind", ["sweep", "compare"])
def test_sweep_and_comparison_pages_have_every_variants_mean_and_std(grid_config, tmp_path, kind):
    out = tmp_path / kind
    if kind == "sweep":
        summary = run_sweep(
            grid_config, [], vary=["training.lr=0.3,0.05"], n_seeds=2, out=out
        ).to_json()
    else:
        summary = run_compare(
            grid_config, [], activations=["tanh", "step"], n_seeds=2, out=out
        ).to_json()
    page = parsed(out)
    text = page.all_text
    for record in summary["results"]:
        for split, by_metric in record["metrics"].items():
            for name, stats in by_metric.items():
                shown = format_value(None, name)
                if stats["mean"] is not None:
                    shown = f"{stats['mean']:.4f} ± {stats['std']:.4f}"
                assert shown in text, (split, name)
    assert "training took" in text
    if kind == "compare":
        assert "grad first/out" in text and "activations.png" in text


def test_a_one_seed_page_shows_each_value_alone(grid_config, tmp_path):
    """One seed has no spread: no `± 0.0000` in every cell."""
    out = tmp_path / "one"
    summary = run_compare(
        grid_config, [], activations=["tanh", "relu"], n_seeds=1, out=out
    ).to_json()
    text = parsed(out).all_text
    assert "±" not in text and "Results (one seed)" in text
    for record in summary["results"]:
        for split, by_metric in record["metrics"].items():
            for name, stats in by_metric.items():
                if stats["mean"] is not None:
                    assert f"{stats['mean']:.4f}" in text, (split, name)
        assert f"{record['grad_ratio']['mean']:.2e}" in text


def test_text_from_the_folder_is_escaped_on_the_page(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(
        json.dumps({"kind": "train", "setup": "<script>alert(1)</script> & more"})
    )
    page = Page(build_report(folder))
    assert "script" not in page.tags
    assert "<script>alert(1)</script> & more" in page.all_text


def test_nncli_report_prints_the_path_and_writes_a_page_an_older_folder_lacks(
    moons_run, monkeypatch
):
    opened: list[str] = []

    class Browser:
        def open(self, url: str) -> bool:
            opened.append(url)
            return True

    monkeypatch.setattr(webbrowser, "get", lambda: Browser())
    run, _ = moons_run
    page = run / "report.html"
    shown = runner.invoke(app, ["report", str(run), "--no-open"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == f"{page}\n" and opened == []
    page.unlink()  # as a folder from before nncli wrote reports
    written = runner.invoke(app, ["report", str(run)])
    assert written.exit_code == 0, written.output
    assert f"wrote {page}" in written.stderr and written.stdout == f"{page}\n"
    assert opened == [page.resolve().as_uri()]
    parsed(run)


def test_nncli_report_without_a_browser_still_succeeds(moons_run, monkeypatch):
    def no_browser():
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", no_browser)
    result = runner.invoke(app, ["report", str(moons_run[0])])
    assert result.exit_code == 0, result.output
    assert "no web browser found here" in result.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such folder"),
        (
            lambda p: (p.write_text("x"), p)[1],
            "not a folder; give a run, sweep or comparison folder",
        ),
        (
            lambda p: (p.mkdir(), p)[1],
            "not a run folder (no run.json, metrics.json, summary.json), so no report",
        ),
    ],
    ids=["missing", "a file", "not a run"],
)
def test_nncli_report_refuses_what_is_not_a_run_folder_in_one_line(tmp_path, make, message):
    target = make(tmp_path / "target")
    result = runner.invoke(app, ["report", str(target), "--no-open"])
    assert result.exit_code == 2
    assert result.stderr == f"error: {target}: {message}\n"

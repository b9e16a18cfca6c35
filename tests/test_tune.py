"""`nncli tune`: distributions, their errors, a search end to end, trials stacked against trials
trained alone, the pruner, an interrupted search resumed, and two processes on one study."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.app.tunerequest import TuneRequest
from nncli.app.tuning import run_tune
from nncli.cli import app
from nncli.config.schema import Config
from nncli.config.search import Distribution, parse_distribution
from nncli.errors import Interrupted
from nncli.grid.session import Session

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 5  # TINY_MOONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loguniform(1e-4, 1)", Distribution("loguniform", 1e-4, 1.0)),
        ("uniform(0,0.9)", Distribution("uniform", 0.0, 0.9)),
        ("int(8, 256)", Distribution("int", 8, 256)),
        ("logint(8, 256)", Distribution("logint", 8, 256)),
        ("choice(relu, tanh, gelu)", Distribution("choice", choices=("relu", "tanh", "gelu"))),
        ("choice(8, [8, 8], 16)", Distribution("choice", choices=(8, [8, 8], 16))),
    ],
)
def test_distributions_parse(text, expected):
    parsed = parse_distribution(text)
    assert parsed == expected
    assert parse_distribution(parsed.text) == parsed  # run.json's text reads back the same


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("loguniform(0, 1)", "0 < low < high"),
        ("uniform(1, 1)", "low < high"),
        ("int(1.5, 8)", "two integers"),
        ("logint(0, 8)", "1 <= low"),
        ("choice(relu)", "two or more"),
        ("choice(relu, relu)", "relu is listed twice"),
        ("normal(0, 1)", "unknown distribution 'normal'"),
        ("0.1", "expected a distribution"),
        ("uniform(a, 1)", "two numbers"),
    ],
)
def test_bad_distributions_say_what_is_wrong(text, said):
    with pytest.raises(ValueError, match=said.replace("(", r"\(")):
        parse_distribution(text)


def test_every_bad_search_is_reported_at_once_in_one_line_each_exit_2(tiny_moons, tmp_path):
    out = tmp_path / "never"
    searches = ["training.lrr=loguniform(1e-4,1)", "training.momentum=uniform(0.5,1.5)",
                "model.activation=choice(relu,foo)", "data.noise=uniform(0,1)",
                "model.width=loguniform(4,64)"]  # fmt: skip
    args = ["tune", str(tiny_moons), "--out", str(out)]
    result = runner.invoke(app, [*args, *(x for s in searches for x in ("--search", s))])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    for said in ["--search training.lrr: unknown key 'lrr'", "--search training.momentum:",
                 "--search model.activation: unknown activation 'foo'",
                 "--search data.noise: tune searches model and training keys",
                 "--search model.width: must be an integer"]:  # fmt: skip
        assert sum(said in line for line in lines) == 1, (said, result.stderr)
    assert not out.exists()


def test_a_space_file_is_named_in_its_errors_and_a_config_without_val_refused(
    tiny_moons, write_config, make_config, tmp_path
):
    space = tmp_path / "space.yaml"
    space.write_text("training.lr: loguniform(1e-4, 1)\nmodel.activation: choice(relu, foo)\n")
    result = runner.invoke(app, ["tune", str(tiny_moons), "--space", str(space)])
    assert result.exit_code == 2 and f"{space} model.activation: unknown" in result.stderr
    no_val = write_config(make_config(data={"split": {"train": 0.8, "val": 0, "test": 0.2}}))
    result = runner.invoke(app, ["tune", str(no_val), "--search", "training.lr=uniform(0.01,1)"])
    assert result.exit_code == 2 and "data.split.val is 0" in result.stderr
    for options in (["--trials", "0"], ["--sampler", "grid"], ["--batch", "0"]):
        search = ["--search", "training.lr=uniform(0.1,1)"]
        result = runner.invoke(app, ["tune", str(tiny_moons), *search, *options])
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, ["tune", "--resume", str(tmp_path), "--batch", "2"])
    assert result.exit_code == 2 and "--resume takes only the run folder" in result.stderr


def test_a_space_file_that_is_missing_or_not_a_mapping_is_named_as_one(tiny_moons, tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("- training.lr\n")
    for space, said in (
        (tmp_path / "nope.yaml", "search space file not found"),
        (listed, "search space must be a mapping, got list"),
    ):
        result = runner.invoke(app, ["tune", str(tiny_moons), "--space", str(space)])
        assert result.exit_code == 2
        assert result.stderr.strip() == f"error: {space}: {said}"


@pytest.mark.parametrize(
    "storage, said",
    [
        ("bogus://x", "no database called 'bogus'"),
        ("not a url://", "not a database URL"),
        ("sqlite:///{missing}/study.db", "cannot open the database: unable to open database file"),
        ("postgresql://u@localhost:1/db", "no driver for 'postgresql' is installed"),
        ("{missing}/study.journal", "No such file or directory"),
    ],
)
def test_a_storage_that_cannot_be_opened_is_one_line_before_any_folder(
    tiny_moons, tmp_path, storage, said
):
    storage = storage.format(missing=tmp_path / "missing")
    out = tmp_path / "tune"
    args = ["tune", str(tiny_moons), "--search", "training.lr=loguniform(1e-3,1)",
            "--storage", storage, "--trials", "1", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: --storage {storage}: {said}"), line
    assert not out.exists()


def test_a_search_end_to_end_chooses_on_validation(tiny_moons, tmp_path, monkeypatch):
    from nncli.report import tuneplots

    by_value = {}
    drawn = tuneplots.plot_loss_by_value

    def draw(*args, **settings):
        by_value.update(args=args, kw=settings)
        drawn(*args, **settings)

    monkeypatch.setattr(tuneplots, "plot_loss_by_value", draw)
    out = tmp_path / "tune"
    args = ["tune", str(tiny_moons), "--search", "training.lr=loguniform(1e-3,1)",
            "--search", "model.activation=choice(relu,tanh)", "--trials", "10", "--batch", "4",
            "--out", str(out), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    for name in ("trials.csv", "study.journal", "model.safetensors", "history.csv", "loss.png",
                 "optimization_history.png", "loss_by_value.png", "param_importances.png",
                 "report.html"):  # fmt: skip
        assert (out / name).exists(), name
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [int(r["trial"]) for r in rows] == list(range(10))
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best = min(complete, key=lambda r: float(r["val_loss"]))
    assert summary["best"]["trial"] == int(best["trial"])
    assert summary["best"]["val"]["loss"] == float(best["val_loss"])
    # Test scores are reported beside, never chosen on: the best by test loss is not asked.
    assert summary["best"]["test"]["loss"] == float(best["test_loss"])
    assert summary["baseline"]["val"]["accuracy"] == 0.5 and summary["best"]["model_here"]
    assert set(summary) >= {"space", "counts", "top", "importances", "metrics", "storage"}
    assert summary["top"][0]["trial"] == summary["best"]["trial"]
    # loss_by_value.png: every trial at the values it drew, lr on a log axis, the best starred.
    _, logs, points = by_value["args"]
    assert logs == {"training.lr": True, "model.activation": False}
    assert [(p["training.lr"], state) for p, state, _ in points] == [
        (float(r["training.lr"]), r["state"]) for r in rows
    ]
    assert by_value["kw"]["best"]["val_loss"] == summary["best"]["val"]["loss"]
    # The pruner stopped some trials before their last epoch; they are never the best.
    pruned = [r for r in rows if r["state"] == "PRUNED"]
    assert pruned and all(int(r["epochs"]) < EPOCHS for r in pruned)
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    evaluated = runner.invoke(app, ["evaluate", str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    page = (out / "report.html").read_text()
    assert "<h2>Search</h2>" in page and "optimization_history.png" in page
    listed = runner.invoke(app, ["runs", str(tmp_path), "--json"])
    (record,) = json.loads(listed.stdout)
    assert record["kind"] == "tune" and record["varied"] == ["training.lr", "model.activation"]
    assert record["metrics"]["accuracy"] == summary["best"]["test"]["accuracy"]
    shown = runner.invoke(app, ["tune", "--resume", str(out)])
    assert shown.exit_code == 2 and "already finished" in shown.stderr


def _configs(make_config, *changes: dict) -> list[list[Config]]:
    """One trial (one seed) per change of TINY_MOONS's training or model section."""
    from nncli.config.loading import validate_config

    trials = []
    for change in changes:
        sections = {k: v for k, v in change.items() if k in ("model", "training")}
        trials.append([validate_config(make_config(**sections), source="test")])
    return trials


def test_trials_stacked_train_as_they_would_alone(make_config):
    from nncli.data.prepared import prepare_data
    from nncli.grid.trials import train_trials, trial_stacks

    trials = _configs(
        make_config,
        {"training": {"lr": 0.3}},
        {"training": {"lr": 0.02, "momentum": 0.5}, "model": {"activation": "relu"}},
        {"model": {"width": 5}},  # another shape: its own stack
        {"training": {"weight_decay": 0.01}, "model": {"activation": "gelu"}},
    )
    assert sorted(len(s) for s in trial_stacks(trials)) == [1, 3]
    data = prepare_data(trials[0][0].data)
    stacked = {
        t: fits for done in train_trials(trials, data, Session()) for t, fits in done.items()
    }
    for t, configs in enumerate(trials):
        (alone,) = [fits for done in train_trials([configs], data, Session())
                    for fits in done.values()]  # fmt: skip
        for split in ("val", "test"):
            assert math.isclose(stacked[t][0].losses[split], alone[0].losses[split],
                                rel_tol=1e-6, abs_tol=1e-7)  # fmt: skip


def test_a_pruned_trial_stops_training_and_the_others_go_on(make_config):
    from nncli.data.prepared import prepare_data
    from nncli.grid.trials import train_trials

    trials = _configs(make_config, {"training": {"lr": 0.1}}, {"training": {"lr": 0.05}})
    data = prepare_data(trials[0][0].data)
    seen = []

    def prune(owners, report):  # trial 1 is stopped after its 2nd epoch
        seen.append((list(owners), report.epoch))
        return {1} if report.epoch == 2 else set()

    (done,) = list(train_trials(trials, data, Session(), prune=prune))
    assert [len(done[t][0].record.history) for t in (0, 1)] == [EPOCHS, 2]
    assert seen[0] == ([0, 1], 1)


def test_an_interrupted_search_resumes_to_its_trials(tiny_moons, tmp_path, stop_after):
    out = tmp_path / "cut"
    request = TuneRequest(tiny_moons, search=["training.lr=loguniform(1e-3,1)"], trials=6,
                          batch=4, pruner="none", out=out)  # fmt: skip
    # The first question is asked before the first batch, then one before every step (9 per
    # epoch): the 20th is inside the first batch's stack, in its 3rd epoch.
    with pytest.raises(Interrupted) as info:
        run_tune(request, Session(should_stop=stop_after(20)))
    assert info.value.exit_code == 130
    assert f"0 of 6 trials finished; saved {out / 'study.journal'}" in str(info.value)
    assert f"resume with: nncli tune --resume {out}" in str(info.value)
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted" and status["resumable"] is True
    summary = run_tune(TuneRequest(resume=out))
    rows = list(csv.DictReader((out / "trials.csv").open()))
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert [r["reason"] for r in failed] == ["interrupted"] * 4
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    assert len(complete) == 6 == summary["counts"]["complete"]
    # The 4 cut short were asked again first, with the same parameters.
    assert {r["training.lr"] for r in failed} <= {r["training.lr"] for r in complete}
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_two_processes_share_one_study(tiny_moons, tmp_path):
    import optuna

    from nncli.app.study import counted, storage_of

    journal = tmp_path / "shared.journal"
    args = ["tune", str(tiny_moons), "--search", "training.lr=loguniform(1e-3,1)", "--trials", "6",
            "--batch", "2", "--storage", str(journal), "--study", "s", "--quiet"]  # fmt: skip
    # A asks its first 2 trials and waits at their first step (no sleep: stop_at's pause);
    # B meanwhile trains what is left of the 6; then A finishes its 2.
    a = subprocess.Popen([sys.executable, str(ROOT / "tests" / "stop_at.py"), "2", "pause", "--",
                          *args, "--out", str(tmp_path / "a")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for line in a.stdout:
            if line == "paused\n":
                break
        b = subprocess.run([sys.executable, "-m", "nncli", *args, "--out", str(tmp_path / "b")],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert b.returncode == 0, b.stderr
    finally:
        _, stderr = a.communicate("\n", timeout=120)
    assert a.returncode == 0, stderr
    study = optuna.load_study(study_name="s", storage=storage_of(str(journal)))
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers)) == 6 and all(counted(t) for t in study.trials)
    workers = [t.user_attrs["worker"] for t in study.trials]
    assert workers.count(str(tmp_path / "a")) == 2 and workers.count(str(tmp_path / "b")) == 4


def test_a_crash_marks_the_search_failed(tiny_moons, tmp_path, monkeypatch):
    from nncli.app import tuneoutputs

    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(tuneoutputs, "write_tune_outputs", crash)
    out = tmp_path / "crashed"
    with pytest.raises(RuntimeError):
        run_tune(TuneRequest(tiny_moons, search=["training.lr=uniform(0.05,0.5)"], trials=2,
                             out=out))  # fmt: skip
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed" and record["error"] == "RuntimeError: a bug"
    assert record["kind"] == "tune" and record["resumable"] is False


def test_a_trial_of_several_seeds_is_valued_at_their_mean(tiny_moons, tmp_path):
    from nncli.config.loading import configure, read_yaml_mapping
    from nncli.data.prepared import prepare_data
    from nncli.grid.trials import train_trials

    request = TuneRequest(tiny_moons, search=["training.lr=uniform(0.05,0.5)"], trials=1,
                          seeds=2, sampler="random", out=tmp_path / "seeds")  # fmt: skip
    best = run_tune(request)["best"]
    config = configure(read_yaml_mapping(tiny_moons), tiny_moons, [],
                       [("training.lr", best["params"]["training.lr"])])  # fmt: skip
    seeds = [config.model_copy(update={"seed": config.seed + i}) for i in (0, 1)]
    (done,) = train_trials([[s] for s in seeds], prepare_data(config.data), Session())
    alone = [done[t][0].losses["val"] for t in (0, 1)]
    assert math.isclose(best["val"]["loss"], sum(alone) / 2, rel_tol=1e-6)


def test_trials_that_diverge_are_pruned_never_best_and_none_complete_is_exit_1(
    tiny_moons, tmp_path
):
    out = tmp_path / "diverged"
    args = [
        "tune",
        str(tiny_moons),
        "--search",
        "training.lr=loguniform(1e29,1e30)",
        "--trials",
        "2",
        "--set",
        "model.activation=relu",
        "--out",
        str(out),
    ]  # tanh saturates instead
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "no trial completed (2 pruned or diverged, 0 failed" in result.stderr
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [(r["state"], r["reason"]) for r in rows] == [("PRUNED", "diverged")] * 2
    assert json.loads((out / "run.json").read_text())["status"] == "failed"

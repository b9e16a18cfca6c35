"""Tracking end to end: what TensorBoard's own reader and MLflow's own client read back of a run,
a sweep, a resumed run and a run under torchrun is exactly its history.csv; a backend that
cannot work is one line before training; one that fails while training costs nothing else."""

from __future__ import annotations

import csv
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app

# The `dev` extra installs both; outside CI a machine without them skips this module.
if not os.environ.get("CI"):
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tracked(make_config, mlflow_store):
    """`tracked(**tracking)`: the tiny config with TensorBoard and MLflow (the test's own SQLite
    store) on, and `tracking` changed."""

    def config(**tracking) -> dict:
        store = {"uri": mlflow_store, "experiment": "tests"}
        return make_config(tracking={"tensorboard": True, "mlflow": store} | tracking)

    return config


def history(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def events(folder: Path) -> EventAccumulator:
    reader = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    reader.Reload()
    return reader


def assert_events_are(folder: Path, rows: list[dict[str, float]]) -> EventAccumulator:
    """Each history column is a scalar tag whose values, epoch by epoch and each once, are the
    column's (to float32, TensorBoard's precision)."""
    reader = events(folder)
    for column in [c for c in rows[0] if c != "epoch"]:
        found = [(e.step, e.value) for e in reader.Scalars(column)]
        assert [step for step, _ in found] == [int(row["epoch"]) for row in rows], column
        assert [np.float32(v) for _, v in found] == [np.float32(row[column]) for row in rows]
    return reader


def assert_metrics_are(client: MlflowClient, run: str, rows: list[dict[str, float]]) -> None:
    """Each history column is an MLflow metric holding exactly the column, epoch by epoch."""
    for column in [c for c in rows[0] if c != "epoch"]:
        found = [(m.step, m.value) for m in client.get_metric_history(run, column)]
        assert sorted(found) == [(int(row["epoch"]), row[column]) for row in rows], column


def record(folder: Path) -> dict:
    return json.loads((folder / "tracking.json").read_text())["mlflow"]


def test_a_run_s_events_and_mlflow_run_hold_its_history(tracked, write_config, tmp_path):
    config = write_config(tracked())
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr, result.stderr
    rows = history(out / "history.csv")
    assert len(rows) == 5
    reader = assert_events_are(out / "tensorboard", rows)
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    (final,) = reader.Scalars("final/test_accuracy")
    assert np.float32(final.value) == np.float32(metrics["test"]["accuracy"])

    mlflow = record(out)
    client = MlflowClient(mlflow["uri"])
    (run_id,) = mlflow["runs"]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["training.lr"] == "0.1" and run.data.params["model.width"] == "8"
    assert_metrics_are(client, run_id, rows)
    assert run.data.metrics["final/val_accuracy"] == metrics["val"]["accuracy"]
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"history.csv", "model.safetensors", "config.yaml", "report.html"} <= artifacts
    (model,) = client.search_logged_models([mlflow["experiment_id"]])
    assert model.source_run_id == run_id and model.status.name == "READY"
    # Beside the store, not in a mlruns/ of the current directory (MLflow's own default).
    beside = str(Path(mlflow["uri"].removeprefix("sqlite:///")).parent / "artifacts")
    assert run.info.artifact_uri.startswith(beside), run.info.artifact_uri
    assert model.artifact_location.startswith(beside), model.artifact_location
    assert (Path(model.artifact_location) / "model.safetensors").read_bytes() == (
        out / "model.safetensors"
    ).read_bytes()


def test_a_sweep_is_a_tensorboard_run_and_a_nested_mlflow_run_per_model(
    tracked, write_config, tmp_path
):
    config = write_config(tracked(tensorboard=True))
    out = tmp_path / "sweep"
    args = ["sweep", str(config), "--vary", "training.lr=0.05,0.2", "--seeds", "2"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    labels = sorted(p.stem for p in (out / "history").iterdir())
    assert len(labels) == 4
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == labels

    mlflow = record(out)
    client = MlflowClient(mlflow["uri"])
    parent = client.get_run(mlflow["parent"])
    assert parent.info.status == "FINISHED" and parent.info.run_name == "sweep"
    assert "summary.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    children = {client.get_run(r).info.run_name: client.get_run(r) for r in mlflow["runs"]}
    assert sorted(children) == labels
    for label in labels:
        rows = history(out / "history" / f"{label}.csv")
        reader = assert_events_are(out / "tensorboard" / label, rows)
        data = reader.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(data["_hparams_/session_start_info"])
        lr = start.session_start_info.hparams["training.lr"].number_value
        seed = start.session_start_info.hparams["seed"].number_value
        assert label == f"lr={lr:g}-seed{seed:g}"
        child = children[label]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert float(child.data.params["training.lr"]) == lr
        assert_metrics_are(client, child.info.run_id, rows)
        assert {"history.csv"} <= {a.path for a in client.list_artifacts(child.info.run_id)}


def stopped_at(at: str, *args) -> subprocess.CompletedProcess:
    script = ROOT / "tests" / "stop_at.py"
    command = [sys.executable, str(script), *at.split(), "--", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_resumed_run_continues_its_tensorboard_and_mlflow_runs(tracked, write_config, tmp_path):
    """Ctrl-C at epoch 3 (its MLflow run KILLED), then --resume: the same MLflow run, FINISHED,
    and the same event folder, each epoch written once, equal to history.csv."""
    config = write_config(tracked())
    out = tmp_path / "run"
    steps = 9  # 140 training rows in batches of 16
    cut = stopped_at(f"{2 * steps + 4} INT", "train", config, "--out", out)
    assert cut.returncode == 130, cut.stderr
    first = record(out)
    client = MlflowClient(first["uri"])
    (run_id,) = first["runs"]
    assert client.get_run(run_id).info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == [1, 2]

    resumed = runner.invoke(app, ["train", "--resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert "warning" not in resumed.stderr, resumed.stderr
    assert record(out) == first
    assert client.get_run(run_id).info.status == "FINISHED"
    rows = history(out / "history.csv")
    assert len(rows) == 5
    assert_metrics_are(client, run_id, rows)
    assert_events_are(out / "tensorboard", rows)
    assert len(client.search_runs([first["experiment_id"]])) == 1


@pytest.mark.slow
def test_under_torchrun_rank_0_alone_tracks_and_every_model_arrives(
    tracked, write_config, tmp_path
):
    """A sweep of 4 models split over two processes: one MLflow parent with 4 children, one
    event folder per model, each exactly its history, whether rank 0 trained it (written live)
    or rank 1 did (written when the sweep ends)."""
    config = write_config(tracked())
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", "-m", "nncli", "sweep", str(config), "--vary",
               "training.lr=0.05,0.2", "--seeds", "2", "--out", str(out), "-q"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "warning" not in result.stderr, result.stderr[-3000:]
    mlflow = record(out)
    client = MlflowClient(mlflow["uri"])
    assert len(client.search_runs([mlflow["experiment_id"]])) == 5  # rank 1 made none
    for run_id in mlflow["runs"]:
        run = client.get_run(run_id)
        assert run.data.tags["mlflow.parentRunId"] == mlflow["parent"]
        rows = history(out / "history" / f"{run.info.run_name}.csv")
        assert_metrics_are(client, run_id, rows)
        assert_events_are(out / "tensorboard" / run.info.run_name, rows)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again once this returns: nothing listens


@pytest.mark.parametrize(
    ("tracking", "said"),
    [
        ({"mlflow": {"uri": "file:./mlruns"}}, "tracking.mlflow.uri: 'file:./mlruns' is MLflow's"),
        ({"mlflow": {"uri": "ftp://host/x"}}, "tracking.mlflow.uri: MLflow takes no ftp: store"),
        ({"mlflow": {"uri": "sqlite:///:memory:"}}, "names no file; give sqlite:///PATH"),
        ({"mlflow": {"uri": "http://127.0.0.1:{port}"}}, "no MLflow server answers at"),
        ({"mlflow": {"uri": "http://me:secret@127.0.0.1:{port}"}}, "at 'http://me:***@127"),
        ({"mlflow": 3}, "tracking.mlflow: must be true, false, null or a section"),
        ({"tensorbord": True}, "did you mean 'tensorboard'?"),
    ],
    ids=[
        "file store",
        "unknown scheme",
        "sqlite in memory",
        "unreachable",
        "password",
        "not a section",
        "typo",
    ],
)
def test_a_tracking_backend_that_cannot_work_is_one_line_before_any_folder(
    make_config, write_config, tmp_path, tracking, said
):
    if "mlflow" in tracking and isinstance(tracking["mlflow"], dict):
        tracking["mlflow"]["uri"] = tracking["mlflow"]["uri"].format(port=closed_port())
    config = write_config(make_config(tracking=tracking, output={"dir": str(tmp_path / "runs")}))
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2, result.output
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "secret" not in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("backend", ["tensorboard", "mlflow"])
def test_a_backend_not_installed_is_named_with_its_extra(
    make_config, write_config, tmp_path, monkeypatch, backend
):
    monkeypatch.setitem(sys.modules, backend, None)  # as if it were not installed
    config = write_config(make_config(tracking={backend: True}, output={"dir": str(tmp_path)}))
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2, result.output
    assert f"pip install 'nncli[{backend}]'" in result.stderr
    assert not list(tmp_path.glob("cfg-*"))


def test_varying_a_tracking_key_is_refused(make_config, write_config, tmp_path):
    config = write_config(make_config(tracking={"tensorboard": True}))
    args = ["sweep", str(config), "--vary", "tracking.tensorboard=true,false"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "s")])
    assert result.exit_code == 2, result.output
    assert "tracking is the run's, the same for every model" in result.stderr


# Imported by every Python process of the test below (PYTHONPATH): from the 3rd write to an event
# file on, the disk is full. The training process never writes one.
FULL_DISK = """
import builtins, errno, io
_open, _writes = io.open, [0]

def _full(file, mode="r", *args, **kwargs):
    if "tfevents" in str(file) and "a" in mode:
        _writes[0] += 1
        if _writes[0] > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
    return _open(file, mode, *args, **kwargs)

io.open = builtins.open = _full
"""


@pytest.mark.slow
def test_a_full_disk_under_the_event_files_is_one_warning_and_the_run_goes_on(
    tracked, write_config, tmp_path
):
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject" / "sitecustomize.py").write_text(FULL_DISK)
    long = tracked(mlflow=None)
    config = write_config(long | {"training": {**long["training"], "epochs": 40}})
    out = tmp_path / "run"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "inject"), str(ROOT / "src")])
    command = [sys.executable, "-m", "nncli", "train", str(config), "--out", str(out), "-q"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert "tensorboard" in warnings[0] and "No space left on device" in warnings[0]
    assert "training goes on" in warnings[0]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert len(history(out / "history.csv")) == 40
    assert (out / "model.safetensors").exists()


@pytest.mark.slow
def test_epochs_are_written_as_they_end_not_when_the_run_does(tracked, write_config, tmp_path):
    """A run killed (-9) in its 4th epoch never reaches its end: its first three epochs are in
    its event files and its MLflow run all the same, written as they ended, and the worker, left
    without its command, ends the MLflow run KILLED."""
    config = write_config(tracked())
    out = tmp_path / "run"
    script = ROOT / "tests" / "stop_at.py"
    command = [sys.executable, str(script), str(3 * 9 + 2), "pause,KILL", "--", "train",
               str(config), "--out", str(out)]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert "paused\n" in iter(process.stdout.readline, ""), process.stderr.read()
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        (worker,) = [int(pid) for pid in children]  # the tracking worker (figures are drawn inline)
        worker_exit = os.pidfd_open(worker)
    finally:
        process.communicate("\n", timeout=300)
    assert process.returncode == -9
    # Its input closed with the command: it writes what it was sent, ends the runs and exits.
    assert select.select([worker_exit], [], [], 120)[0], "the worker did not end"
    os.close(worker_exit)
    reader = events(out / "tensorboard")
    assert [e.step for e in reader.Scalars("train_loss")] == [1, 2, 3]
    client = MlflowClient(record(out)["uri"])
    (run_id,) = record(out)["runs"]
    assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == [1, 2, 3]
    assert client.get_run(run_id).info.status == "KILLED"
    rows = history(out / "history.csv")  # written as each epoch ended, too
    assert_metrics_are(client, run_id, rows[:3])


def _chromium() -> str | None:
    """A Chromium from the system's packages (Playwright's own browser download needs the
    internet): Debian's chromium-headless-shell or chromium."""
    for path in ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"):
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def _ui_missing() -> str | None:
    """What the MLflow UI test lacks (`make test-ui` installs it), or None."""
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    if _chromium() is None:
        return "no Chromium (apt-get install chromium-headless-shell)"
    spec = importlib.util.find_spec("mlflow")
    if not (Path(spec.origin).parent / "server" / "js" / "build" / "index.html").exists():
        return "mlflow-skinny has no UI: the full mlflow package does"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_ui_missing() is not None, reason=str(_ui_missing()))
def test_the_local_mlflow_ui_shows_the_run_in_a_real_browser(tracked, write_config, tmp_path):
    """`mlflow ui` on the run's store, as the README says, opened in headless Chromium: the
    experiment's runs list the run by its folder's name, and its page shows its metrics."""
    from playwright.sync_api import sync_playwright

    config = write_config(tracked())
    out = tmp_path / "moons-run"
    assert runner.invoke(app, ["train", str(config), "--out", str(out), "-q"]).exit_code == 0
    mlflow = record(out)
    port = closed_port()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", mlflow["uri"],
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    server = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              text=True, start_new_session=True)  # fmt: skip
    lines: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in server.stderr], daemon=True
    ).start()
    try:
        said = []
        while not any("Application startup complete" in line for line in said):
            said.append(lines.get(timeout=300))  # a hang fails here (queue.Empty)
        site = f"http://127.0.0.1:{port}/#/experiments/{mlflow['experiment_id']}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), headless=True)
            page = browser.new_page()
            page.goto(f"{site}/runs", timeout=120_000)
            page.get_by_text("moons-run", exact=True).first.wait_for(timeout=120_000)
            page.goto(f"{site}/runs/{mlflow['runs'][0]}", timeout=120_000)
            page.get_by_text("final/test_accuracy").first.wait_for(timeout=120_000)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)

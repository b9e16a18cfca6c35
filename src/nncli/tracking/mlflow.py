"""MLflow: a run per model (nested under a run for the folder, in a sweep or comparison), the
resolved config as its parameters, each epoch's history row as metrics at step = epoch, the
final metrics of every split (`final/<split>_<metric>`, at the kept epoch), the run folder's
files as artifacts and the checkpoint as a logged model.

The store is `tracking.mlflow.uri`, else `MLFLOW_TRACKING_URI`, else a SQLite file in `mlruns/`
under the current directory (MLflow 3 no longer starts its file store by default, so nncli takes
no file store). The runs' ids are kept in the folder's `tracking.json`, so that `--resume`
continues the same runs (from the first epoch their metrics lack) instead of starting others.
Rows are sent at most once a second, as one batch per run.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from nncli.config.tracking import DEFAULT_MLFLOW_URI, TrackingConfig
from nncli.errors import UsageError, excerpt
from nncli.fileio import atomic_write_json, read_regular_bytes
from nncli.runs import layout as runs
from nncli.tracking.client import Final, Plan

# Schemes MLflow's own stores take; a plugin's (an `mlflow.tracking_store` entry point) too.
DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
SERVERS = ("http", "https")
OTHERS = ("databricks", "databricks-uc", "uc")
SERVER_SECONDS = 5  # how long a server has to answer before training
SEND_SECONDS = 1.0
BATCH = 1000  # MLflow's most metrics in one batch
FINAL = "final/"


def check(config: TrackingConfig, name: str) -> dict:
    """Before training, without importing MLflow: installed, a store it takes, a server that
    answers; the URI resolved (a SQLite path made absolute, its folder made)."""
    assert config.mlflow is not None
    if importlib.util.find_spec("mlflow") is None:
        raise UsageError(
            "tracking.mlflow: MLflow is not installed: pip install 'nncli[mlflow]', or set"
            " tracking.mlflow: false"
        )
    where, uri = "tracking.mlflow.uri", config.mlflow.uri
    if uri is None and os.environ.get("MLFLOW_TRACKING_URI"):
        where, uri = "MLFLOW_TRACKING_URI", os.environ["MLFLOW_TRACKING_URI"]
    uri = uri or DEFAULT_MLFLOW_URI
    scheme = urlsplit(uri).scheme.lower()
    shown = excerpt(_without_password(uri))
    if scheme in ("", "file") or len(scheme) == 1:  # a path (or a Windows drive letter)
        raise UsageError(
            f"{where}: {shown} is MLflow's file store, which MLflow 3 no longer starts by"
            f" default; give a SQLite file (sqlite:///mlruns/mlflow.db) or a server's URL"
        )
    plugins = {
        entry.name for entry in importlib.metadata.entry_points(group="mlflow.tracking_store")
    }
    if scheme.split("+")[0] not in (*DATABASES, *SERVERS, *OTHERS) and scheme not in plugins:
        raise UsageError(
            f"{where}: MLflow takes no {scheme}: store in {shown}; give sqlite:///PATH or a"
            " server's http(s)://HOST:PORT"
        )
    if scheme.split("+")[0] in DATABASES:
        missing = [n for n in ("sqlalchemy", "alembic") if importlib.util.find_spec(n) is None]
        if missing:
            raise UsageError(
                f"{where}: a {scheme} store needs {' and '.join(missing)}: pip install"
                " 'nncli[mlflow]'"
            )
    # Where a new experiment's files go: MLflow's own default is ./mlruns, wherever the command
    # runs; a SQLite store's go beside it (a server's, where the server says).
    artifacts = None
    if scheme == "sqlite":
        uri = _sqlite_file(uri, where)
        artifacts = str(Path(uri.removeprefix("sqlite:///")).parent / "artifacts")
    if scheme in SERVERS:
        _answers(uri, where)
    return {"uri": uri, "experiment": config.mlflow.experiment or name, "artifacts": artifacts}


def _without_password(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _sqlite_file(uri: str, where: str) -> str:
    """`sqlite:///relative.db` as an absolute path (the worker and a resume may run elsewhere),
    its folder made."""
    path = uri.split(":///", 1)[1] if ":///" in uri else ""
    if not path or path.startswith(":memory:"):
        raise UsageError(f"{where}: {excerpt(uri)} names no file; give sqlite:///PATH")
    path = Path(path.split("?", 1)[0]).expanduser().absolute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{where}: cannot make {path.parent}: {exc.strerror}") from None
    return f"sqlite:///{path}"


def _answers(uri: str, where: str) -> None:
    """An MLflow server answers at `uri` (its health check) within SERVER_SECONDS."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=SERVER_SECONDS) as response:
            response.read(100)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UsageError(
            f"{where}: no MLflow server answers at {excerpt(_without_password(uri))} ({reason});"
            " start one (mlflow server) or give another tracking.mlflow.uri"
        ) from None


def load() -> None:
    """Import MLflow's client (seconds) before the run's first epoch."""
    from mlflow.tracking import MlflowClient  # noqa: F401


class Log:
    """One folder's MLflow runs."""

    def __init__(self, settings: dict, plan: Plan, warn: Callable[[str], None]):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=settings["uri"])
        self.plan, self.folder = plan, Path(plan.folder)
        self.artifacts = settings["artifacts"]
        self.experiment = self._experiment(settings["experiment"])
        opened = self._reopen(settings["uri"], warn) if plan.resuming else None
        self.parent, self.runs = opened or self._create(settings["uri"])
        self.written = [self._last_epoch(run) if opened else 0 for run in self.runs]
        self.pending: dict[str, list] = {}  # run -> metrics not yet sent
        self.sent = time.monotonic()

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is None:
            return self.client.create_experiment(name, artifact_location=self.artifacts)
        if found.lifecycle_stage == "deleted":
            raise RuntimeError(
                f"experiment {name!r} is deleted: restore it (mlflow experiments restore) or name"
                " another in tracking.mlflow.experiment"
            )
        return found.experiment_id

    def _create(self, uri: str) -> tuple[str | None, list[str]]:
        tags = {"nncli.folder": str(self.folder)}
        parent = None
        if self.plan.grid:
            parent = self._run(self.folder.name, tags, self.plan.params)
            tags["mlflow.parentRunId"] = parent
        names = [m.label if self.plan.grid else self.folder.name for m in self.plan.models]
        ids = [
            self._run(name, tags, m.params) for name, m in zip(names, self.plan.models, strict=True)
        ]
        record = {"uri": uri, "experiment_id": self.experiment, "parent": parent, "runs": ids}
        atomic_write_json(self.folder / runs.TRACKING_FILE, {"mlflow": record})
        return parent, ids

    def _run(self, name: str, tags: dict, params: dict[str, str]) -> str:
        from mlflow.entities import Param

        run = self.client.create_run(self.experiment, tags=tags, run_name=name).info.run_id
        items = [Param(key, value) for key, value in params.items()]
        for start in range(0, len(items), 100):  # MLflow's most params in one batch
            self.client.log_batch(run, params=items[start : start + 100])
        return run

    def _reopen(self, uri: str, warn: Callable[[str], None]) -> tuple | None:
        """The runs the folder's first process started, RUNNING again; None (and a warning)
        when they are not in this store."""
        path = self.folder / runs.TRACKING_FILE
        try:
            record = json.loads(read_regular_bytes(path, limit=1 << 24, what="tracking record"))
            record = record["mlflow"]
            parent, ids = record["parent"], list(record["runs"])
            if record["uri"] != uri or len(ids) != len(self.plan.models):
                raise ValueError("another store")
            for run in [parent, *ids] if parent else ids:
                self.client.update_run(run, status="RUNNING")
        except Exception:  # a missing or foreign record, runs deleted since: start new ones
            warn(f"tracking to mlflow: the runs this folder started are not in {uri}; new ones")
            return None
        return parent, ids

    def _last_epoch(self, run: str) -> int:
        return max((m.step for m in self.client.get_metric_history(run, "train_loss")), default=0)

    def rows(self, models: list[int], rows: list[dict[str, float] | None]) -> None:
        for model, row in zip(models, rows, strict=True):
            if row is not None and row["epoch"] == self.written[model] + 1:
                self._queue(model, row)
        if time.monotonic() - self.sent >= SEND_SECONDS:
            self._send()

    def _queue(self, model: int, row: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now, step = int(time.time() * 1000), int(row["epoch"])
        metrics = [Metric(k, float(v), now, step) for k, v in row.items() if k != "epoch"]
        self.pending.setdefault(self.runs[model], []).extend(metrics)
        self.written[model] = step

    def _send(self) -> None:
        for run, metrics in self.pending.items():
            for start in range(0, len(metrics), BATCH):
                self.client.log_batch(run, metrics=metrics[start : start + BATCH])
        self.pending, self.sent = {}, time.monotonic()

    def finish(self, status: str, finals: list[Final] | None) -> None:
        from mlflow.entities import Metric

        for model, final in enumerate(finals or []):
            for row in final.history:
                if row["epoch"] > self.written[model]:
                    self._queue(model, row)
            now = int(time.time() * 1000)
            self.pending.setdefault(self.runs[model], []).extend(
                Metric(FINAL + key, float(value), now, final.kept_epoch)
                for key, value in final.metrics.items()
            )
        self._send()
        if finals is not None:
            self._artifacts()
        for run in [*self.runs, self.parent] if self.parent else self.runs:
            self.client.set_terminated(run, status)

    def _artifacts(self) -> None:
        """The folder's files; in a grid, the parent the folder's own and each model its
        history and checkpoint; each checkpoint also a logged model of its run."""
        if not self.plan.grid:
            (run,) = self.runs
            for entry in sorted(self.folder.iterdir()):
                if entry.name == runs.LOCK_FILE:
                    continue
                if entry.is_dir():
                    self.client.log_artifacts(run, str(entry), entry.name)
                else:
                    self.client.log_artifact(run, str(entry))
            self._model(run, self.folder / runs.CHECKPOINT_FILE)
            return
        for entry in sorted(self.folder.iterdir()):
            if entry.is_file() and entry.name != runs.LOCK_FILE:
                self.client.log_artifact(self.parent, str(entry))
        for run, model in zip(self.runs, self.plan.models, strict=True):
            self._copies(
                run, {runs.HISTORY_FILE: runs.HISTORY_DIR + "/" + runs.history_file(model.label)}
            )
            self._model(run, self.folder / runs.MODELS_DIR / runs.model_file(model.label))

    def _model(self, run: str, checkpoint: Path) -> None:
        from mlflow.entities import LoggedModelStatus

        logged = self.client.create_logged_model(
            self.experiment, name="model", source_run_id=run, model_type="nncli-mlp"
        )
        with tempfile.TemporaryDirectory() as folder:
            _place(checkpoint, Path(folder) / runs.CHECKPOINT_FILE)
            _place(self.folder / runs.CONFIG_FILE, Path(folder) / runs.CONFIG_FILE)
            self.client.log_model_artifacts(logged.model_id, folder)
        self.client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)

    def _copies(self, run: str, names: dict[str, str]) -> None:
        """Files of the folder logged under other names (`history.csv` for history/<label>.csv)."""
        with tempfile.TemporaryDirectory() as folder:
            for name, source in names.items():
                _place(self.folder / source, Path(folder) / name)
            self.client.log_artifacts(run, folder)


def _place(source: Path, target: Path) -> None:
    """`source` at `target`: a hard link, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)

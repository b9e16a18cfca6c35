"""Shared fixtures: tiny configs that train in well under a second, and ways to keep the slow
paths few (one memory-limited child for many CLI cases; figures built but not rendered)."""

from __future__ import annotations

import os

# One thread: on a loaded 2-core machine torch's default thread count makes small models 3-7x
# slower. Set before torch is imported; subprocess tests inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


# The tiny classification run most tests train: under a second. Tests state only what differs.
TINY_MOONS = {
    "seed": 3,
    "data": {"source": "moons", "n_samples": 200, "noise": 0.2},
    "model": {"depth": 2, "width": 8, "activation": "tanh"},
    # Early stopping off: tests count on every epoch running and the last weights kept; the
    # default (on wherever there is a validation split) has its own tests.
    "training": {"lr": 0.1, "batch_size": 16, "epochs": 5, "momentum": 0.9, "early_stopping": None},
}


def build_config(**sections: object) -> dict:
    """TINY_MOONS with each keyword's section merged in (a mapping, key by key) or replaced (any
    other value): `build_config(seed=4, model={"width": 6})`. A fresh mapping every call."""
    config = copy.deepcopy(TINY_MOONS)
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            config[name] = {**config[name], **copy.deepcopy(value)}
        else:
            config[name] = copy.deepcopy(value)
    return config


@pytest.fixture(scope="session")
def make_config():
    """`build_config` for tests: a config mapping, TINY_MOONS with some sections changed."""
    return build_config


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config mapping to a YAML file in tmp_path and return its path."""

    def write(data: dict, name: str = "cfg.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
        return path

    return write


@pytest.fixture
def tiny_moons(write_config, tmp_path: Path) -> Path:
    return write_config(build_config(output={"dir": str(tmp_path / "runs")}), "moons.yaml")


GRID_CONFIG = build_config(
    seed=4,
    data={"n_samples": 120, "noise": 0.25},
    model={"width": 6},
    training={"epochs": 4, "momentum": 0.0},  # the default, no momentum
)


@pytest.fixture
def grid_config(write_config, tmp_path: Path) -> Path:
    """A config small enough to train a grid of it in a second or two."""
    return write_config({**GRID_CONFIG, "output": {"dir": str(tmp_path / "runs")}}, "small.yaml")


@pytest.fixture(scope="module")
def module_grid_config(tmp_path_factory) -> Path:
    """grid_config for runs a module shares between its tests (each names its --out)."""
    path = tmp_path_factory.mktemp("grid") / "small.yaml"
    path.write_text(yaml.safe_dump(GRID_CONFIG))
    return path


# Session-wide, so that module and session fixtures (trained runs shared by a file's tests) see
# them too: a function-scoped fixture is not yet in force when those are built.
@pytest.fixture(autouse=True, scope="session")
def figures_drawn_in_process() -> Iterator[None]:
    """Figures drawn where they are asked for, not in worker processes: a worker's start (an
    interpreter and matplotlib) would cost most tests more than their run, and monkeypatched
    plot functions act only in this process. tests/test_drawing.py draws in workers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNCLI_FIGURE_WORKERS", "0")
        yield


@pytest.fixture(autouse=True, scope="session")
def figure_cache_of_the_session(tmp_path_factory) -> Iterator[None]:
    """Figures that depend only on their inputs are cached in a folder of the test session's,
    never in the user's ~/.cache (report/figurecache.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNCLI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "figure-cache"))
        yield


@pytest.fixture
def unrendered_plots(monkeypatch) -> None:
    """Figures built as usual but not rendered to PNG, which is most of a small run's time: for
    tests about numbers that train many runs. The tests that check a run's files, and
    tests/test_plots.py, render them."""
    from nncli.report import plots

    monkeypatch.setattr(plots, "save_figure", lambda fig, path: plots.pyplot().close(fig))


# Address space for a child: torch needs about 1 GB; reading /dev/zero or expanding a YAML bomb
# would take it all.
MEMORY_LIMIT = 3 << 30

# Runs each case through the CLI in turn, naming it on stderr first, so that a case that hangs
# or blows up is named; prints {case: [exit code, stdout, stderr]} at the end.
_CASES_CHILD = """
import json, os, sys, traceback
from typer.testing import CliRunner
from nncli.cli import app

results = {}
for name, (args, cwd) in json.load(sys.stdin).items():
    print(name, file=sys.stderr, flush=True)
    os.chdir(cwd)
    result = CliRunner().invoke(app, args)
    stderr = result.stderr
    if result.exc_info and not isinstance(result.exception, SystemExit):  # a crash, shown
        stderr += "".join(traceback.format_exception(*result.exc_info))
    results[name] = [result.exit_code, result.stdout, stderr]
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def limited_cli():
    """Run CLI cases, {name: (args, cwd)}, in one child process with MEMORY_LIMIT of address
    space, killed after `timeout` seconds: a hang or a memory blow-up fails the tests instead of
    stalling the machine. One child for many cases: each would otherwise import torch anew.
    Returns {name: CompletedProcess}."""

    def run(cases: dict[str, tuple[list, Path]], timeout: float = 120) -> dict:
        import resource

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

        request = {name: ([str(a) for a in args], str(cwd)) for name, (args, cwd) in cases.items()}
        try:
            child = subprocess.run([sys.executable, "-c", _CASES_CHILD], input=json.dumps(request),
                                   capture_output=True, text=True, timeout=timeout,
                                   preexec_fn=limit)  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            named = exc.stderr or b""
            last = (named.decode() if isinstance(named, bytes) else named).splitlines()[-1:]
            raise AssertionError(f"a case hung past {timeout} s: {last}") from None
        assert child.returncode == 0, child.stderr[-2000:]
        results = json.loads(child.stdout)
        return {
            name: subprocess.CompletedProcess(cases[name][0], code, stdout, stderr)
            for name, (code, stdout, stderr) in results.items()
        }

    return run


class StopAfter:
    """A stop request that says yes on its `calls`-th question (one per training step)."""

    exit_code = 130

    def __init__(self, calls: int):
        self.asked, self.calls = 0, calls

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked >= self.calls


@pytest.fixture
def stop_after() -> type[StopAfter]:
    """`stop_after(n)`: a stop request (as the CLI's StopRequest) that says yes on the nth step."""
    return StopAfter


@pytest.fixture(scope="session")
def _migrated_mlflow_store(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store, its tables made once a session: a new store runs MLflow's
    every migration, 3-20 s on this machine, where a copy opens in under a second."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(_migrated_mlflow_store, tmp_path: Path) -> str:
    """The URI of a fresh MLflow store of this test's own (a copy of the migrated empty one)."""
    import shutil

    path = tmp_path / "store" / "mlflow.db"
    path.parent.mkdir()
    shutil.copyfile(_migrated_mlflow_store, path)
    return f"sqlite:///{path}"

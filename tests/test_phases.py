"""`NNCLI_PHASES`: a real command, run as a process, writes its phase boundaries in order when
asked to, and nothing when not; the harness turns them into phases that add up to the wall time."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def nncli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nncli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300, cwd=ROOT)  # fmt: skip


def test_a_command_writes_its_marks_in_order_only_when_asked(tmp_path):
    record = tmp_path / "phases.json"
    done = nncli("config", "configs/moons.yaml", env={"NNCLI_PHASES": str(record)})
    assert done.returncode == 0, done.stderr
    marks = json.loads(record.read_text())["marks"]
    assert [name for name, _ in marks] == ["startup", "imports", "output"]
    times = [at for _, at in marks]
    assert times == sorted(times)
    env = {k: v for k, v in os.environ.items() if k != "NNCLI_PHASES"}
    done = subprocess.run([sys.executable, "-m", "nncli", "datasets"], capture_output=True,
                          text=True, env=env, timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == [record]  # nothing more written


def test_training_marks_every_phase_of_a_run(tmp_path, tiny_moons):
    record = tmp_path / "phases.json"
    done = nncli("train", str(tiny_moons), "--out", str(tmp_path / "run"), "--quiet",
                 env={"NNCLI_PHASES": str(record)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = [name for name, _ in json.loads(record.read_text())["marks"]]
    assert names == ["startup", "imports", "data", "imports", "training", "files", "figures",
                     "report", "output"]  # fmt: skip


@pytest.fixture
def harness(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("commands")


def test_the_harness_phases_add_up_to_the_wall_time(harness):
    wall, phases = harness.phased([sys.executable, "-m", "nncli", "config", "configs/moons.yaml"])
    assert list(phases) == ["startup", "imports", "output", "exit"]
    assert all(seconds >= 0 for seconds in phases.values())
    assert sum(phases.values()) == pytest.approx(wall, rel=1e-9)
    assert harness.bar(1.0, 1.0) == "█" * harness.BAR_WIDTH
    assert harness.bar(1 / 16, 1.0) == "██▌"
    assert harness.bar(0.0, 1.0) == ""

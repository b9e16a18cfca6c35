"""Commands that print a config, report a config or usage error, or read what runs left never
import torch or pandas: each is run as a real process, which says at exit what it imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pandas")


def program(heavy: tuple[str, ...]) -> str:
    """The CLI as `nncli` runs it; at exit (however it exits) one line says which of `heavy`
    loaded."""
    return f"""
import sys
try:
    from nncli.cli import main
    sys.argv = ["nncli", *sys.argv[1:]]
    main()
finally:
    print("heavy:", [m for m in {heavy!r} if m in sys.modules], file=sys.stderr)
"""


PROGRAM = program(HEAVY)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A malformed YAML, an invalid config, and a runs folder holding one finished run."""
    (tmp_path / "malformed.yaml").write_text("name: bad\nmodel: [\n")
    (tmp_path / "invalid.yaml").write_text(
        "data: {source: moons}\ntraining: {lr: -1}\nmodel: {activation: nope}\n"
    )
    run = tmp_path / "runs" / "moons-1"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text((ROOT / "configs/moons.yaml").read_text())
    (run / "run.json").write_text(json.dumps({"kind": "train", "status": "finished"}))
    (run / "metrics.json").write_text(json.dumps({"task": "classification", "metrics": {}}))
    return tmp_path


CASES = {
    "config": (["config", "{root}/configs/moons.yaml"], 0),
    "config of a malformed YAML": (["config", "{tmp}/malformed.yaml"], 2),
    "train a malformed YAML": (["train", "{tmp}/malformed.yaml"], 2),
    "train an invalid config": (["train", "{tmp}/invalid.yaml"], 2),
    "train a bad --set": (["train", "{root}/configs/moons.yaml", "-s", "training.lr=-1"], 2),
    "train without a config": (["train"], 2),
    "resume with options": (["train", "--resume", "{tmp}/runs/moons-1", "-s", "seed=1"], 2),
    "sweep without --vary": (["sweep", "{root}/configs/moons.yaml"], 2),
    "compare an invalid config": (["compare-activations", "{tmp}/invalid.yaml"], 2),
    "--help": (["--help"], 0),
    "train --help": (["train", "--help"], 0),
    "runs": (["runs", "{tmp}/runs"], 0),
    "runs --json": (["runs", "{tmp}/runs", "--json"], 0),
    "report": (["report", "{tmp}/runs/moons-1", "--no-open"], 0),
    "datasets": (["datasets"], 0),
}


@pytest.mark.parametrize(("args", "code"), CASES.values(), ids=CASES.keys())
def test_no_torch_or_pandas_before_they_are_needed(files, args, code):
    shown = [a.format(root=ROOT, tmp=files) for a in args]
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, *shown], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == code, result.stderr[-2000:]
    assert result.stderr.splitlines()[-1] == "heavy: []", result.stderr[-2000:]


def test_training_on_a_built_in_set_does_not_import_pandas(tmp_path):
    """A built-in set's cells are numbers: pandas (a third of a second) is for CSV files."""
    config, out = ROOT / "configs/moons.yaml", tmp_path / "run"
    args = ["train", str(config), "--set", "training.epochs=2", "--out", str(out), "--quiet"]
    result = subprocess.run(
        [sys.executable, "-c", program(("pandas",)), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines()[-1] == "heavy: []", result.stderr[-2000:]
    assert (out / "model.safetensors").is_file()

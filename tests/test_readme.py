"""The README's promises, checked: its plain-PyTorch loading snippet really works."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from nncli.activations import ACTIVATIONS
from nncli.checkpoint import load_checkpoint
from nncli.commands import run_train

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def every_activation(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """A checkpoint per registered activation and task: (task, activation) -> its file.

    Classification on moons; regression on diabetes, whose target is standardized for training
    (data.scale_target), so the loader must undo it.
    """
    from nncli.commands import run_compare

    base = tmp_path_factory.mktemp("loaders")
    sets = {"classification": "moons", "regression": "diabetes"}
    found = {}
    for task, source in sets.items():
        config = base / f"{source}.yaml"
        config.write_text(
            f"data: {{source: {source}}}\nmodel: {{depth: 2, width: 8}}\ntraining: {{epochs: 2}}\n"
        )
        run_compare(config, [], n_seeds=1, out=base / source)
        for name in ACTIVATIONS:
            found[task, name] = base / source / "models" / f"{name}-seed0.safetensors"
    return found


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_plain_pytorch_loader_predicts_what_nncli_predicts(every_activation, task, activation):
    checkpoint = every_activation[task, activation]
    snippet = next(b for b in python_blocks((ROOT / "README.md").read_text()) if "load_file" in b)
    snippet = re.sub(r'path = ".*?"', f'path = "{checkpoint}"', snippet)
    namespace: dict = {}
    exec(snippet, namespace)  # the README's own code, nothing else

    reference, card = load_checkpoint(checkpoint)
    assert card.activation == activation and card.task == task
    assert (card.target_scaling is not None) == (task == "regression")
    rows = np.random.default_rng(0).normal(size=(50, card.sizes[0]))
    rows = rows * card.scaler.scale + card.scaler.offset  # in the features' own units
    expected = card.predict_raw(reference, rows)
    got = namespace["predict"](rows).numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # the same arithmetic, so the same numbers
    with torch.no_grad():  # the network itself, layer by layer
        x = torch.randn(5, card.sizes[0])
        assert torch.equal(namespace["net"](x), reference(x))


def test_sine_fits_inside_its_training_range_and_not_beyond(tmp_path):
    from nncli.evaluation import evaluate

    run_dir = Path(run_train(ROOT / "configs/sine.yaml", [], out=tmp_path / "sine")["run_dir"])
    inside = evaluate(run_dir, data=ROOT / "data/sine_inside.csv")["metrics"]
    outside = evaluate(run_dir, data=ROOT / "data/sine_outside.csv")["metrics"]
    assert inside["r2"] > 0.99 and outside["r2"] < 0.5
    assert outside["mse"] > 100 * inside["mse"]
    for figure in ("fit.png", "errors.png"):
        assert (run_dir / figure).read_bytes()[:4] == b"\x89PNG"


def test_the_data_sections_example_is_what_nncli_prints(tmp_path):
    from typer.testing import CliRunner

    from nncli.cli import app

    section = (ROOT / "README.md").read_text().split("## Data\n", 1)[1].split("\n## ", 1)[0]
    shown = re.search(r"```console\n(.*?)```", section, flags=re.S).group(1).splitlines()
    run = tmp_path / "claims"
    result = CliRunner().invoke(
        app, ["train", str(ROOT / "configs/claims_csv.yaml"), "--out", str(run)]
    )
    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    assert shown[1:4] == printed[:3]  # the setup line and its note
    assert [line for line in shown if line.startswith("│")][:4] == [
        line for line in printed if line.startswith("│")
    ][:4]  # the metrics
    new = tmp_path / "new_claims.csv"
    new.write_text("\n".join(shown[shown.index("$ cat new_claims.csv") + 1 :][:4]) + "\n")
    predicted = CliRunner().invoke(app, ["predict", str(run), "--data", str(new)])
    start = shown.index("$ nncli predict runs/claims --data new_claims.csv") + 1
    assert predicted.stdout.splitlines() == shown[start : start + 4]

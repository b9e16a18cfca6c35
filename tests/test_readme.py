"""The README's promises, checked: its plain-PyTorch loading snippet really works."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from nncli.checkpoint import load_checkpoint
from nncli.commands import run_train

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_plain_pytorch_snippet_loads_the_same_model(tiny_moons, tmp_path):
    run_dir = Path(run_train(tiny_moons, [], out=tmp_path / "run")["run_dir"])
    checkpoint = run_dir / "model.safetensors"
    snippet = next(b for b in python_blocks((ROOT / "README.md").read_text()) if "load_file" in b)
    snippet = re.sub(r'path = ".*?"', f'path = "{checkpoint}"', snippet)
    namespace: dict = {}
    exec(snippet, namespace)  # the README's own code, nothing else

    reference, card = load_checkpoint(checkpoint)
    x = np.random.default_rng(0).normal(size=(7, 2))
    scaled = (x - np.array(namespace["scaling"]["offset"])) / np.array(
        namespace["scaling"]["scale"]
    )
    inputs = torch.as_tensor(scaled, dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(namespace["net"](inputs), reference(inputs))
    expected = card.predict_raw(reference, x)
    np.testing.assert_allclose(
        torch.softmax(namespace["net"](inputs), -1).detach(), expected, rtol=1e-6
    )


def test_sine_fits_inside_its_training_range_and_not_beyond(tmp_path):
    from nncli.evaluation import evaluate

    run_dir = Path(run_train(ROOT / "configs/sine.yaml", [], out=tmp_path / "sine")["run_dir"])
    inside = evaluate(run_dir, data=ROOT / "data/sine_inside.csv")["metrics"]
    outside = evaluate(run_dir, data=ROOT / "data/sine_outside.csv")["metrics"]
    assert inside["r2"] > 0.99 and outside["r2"] < 0.5
    assert outside["mse"] > 100 * inside["mse"]
    assert (run_dir / "fit.png").read_bytes()[:4] == b"\x89PNG"

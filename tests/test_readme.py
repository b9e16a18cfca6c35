"""The README's and docs/' promises, checked: the plain-PyTorch loading snippet really works, and
the examples print what the pages show."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from nncli.app.commands import run_train
from nncli.model.activations import ACTIVATIONS
from nncli.runs.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def plain_loader(checkpoint: Path, rows: Path) -> dict:
    """Run docs/checkpoint.md's plain-PyTorch loader, nothing else, on a checkpoint and a CSV
    file; its namespace: `net`, `predict`, and `outputs` (its predictions for the file)."""
    section = (ROOT / "docs/checkpoint.md").read_text().split("## Loading without nncli\n")[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    code = code.replace('"runs/claims/model.safetensors"', repr(str(checkpoint)), 1)
    code = code.replace('"new_claims.csv"', repr(str(rows)), 1)
    namespace: dict = {}
    exec(code, namespace)
    return namespace


def test_the_run_folders_page_points_to_the_plain_pytorch_loader():
    page = (ROOT / "docs/run-folders.md").read_text()
    section = page.split("## Loading a model in plain PyTorch\n")[1]
    assert "(checkpoint.md#loading-without-nncli)" in section.split("\n## ")[0]
    assert "(docs/run-folders.md)" in (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def every_activation(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """A checkpoint per registered activation and task: (task, activation) -> its file.

    Classification on moons; regression on diabetes, whose target is standardized for training
    (data.scale_target), so the loader must undo it.
    """
    from nncli.app.commands import run_compare
    from nncli.report import plots

    base = tmp_path_factory.mktemp("loaders")
    sets = {"classification": "moons", "regression": "diabetes"}
    found = {}
    for task, source in sets.items():
        config = base / f"{source}.yaml"
        config.write_text(
            f"data: {{source: {source}}}\nmodel: {{depth: 2, width: 8}}\ntraining: {{epochs: 2}}\n"
        )
        with pytest.MonkeyPatch.context() as patch:  # only the checkpoints are read: no PNGs
            patch.setattr(plots, "save_figure", lambda fig, path: plots.pyplot().close(fig))
            patch.setenv("NNCLI_FIGURE_WORKERS", "0")  # conftest's is set only for each test
            run_compare(config, [], n_seeds=1, out=base / source)
        for name in ACTIVATIONS:
            found[task, name] = base / source / "models" / f"{name}-seed0.safetensors"
    return found


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_plain_pytorch_loader_predicts_what_nncli_predicts(
    every_activation, tmp_path, task, activation
):
    checkpoint = every_activation[task, activation]
    reference, card = load_checkpoint(checkpoint)
    assert card.activation == activation and card.task == task
    assert (card.target_scaling is not None) == (task == "regression")
    rows = np.random.default_rng(0).normal(size=(50, card.sizes[0]))
    rows = rows * card.scaler.scale + card.scaler.offset  # in the features' own units
    table = tmp_path / "rows.csv"
    table.write_text(
        ",".join(card.feature_names) + "\n"
        + "".join(",".join(map(repr, row.tolist())) + "\n" for row in rows)
    )  # fmt: skip
    namespace = plain_loader(checkpoint, table)
    expected = card.predict_raw(reference, rows)
    got = namespace["outputs"].numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # the same arithmetic, so the same numbers
    with torch.no_grad():  # the network itself, layer by layer
        x = torch.randn(5, card.sizes[0])
        assert torch.equal(namespace["net"](x), reference(x))


@pytest.fixture(scope="module")
def claims_models(tmp_path_factory) -> dict[str, Path]:
    """data/claims.csv (region and channel categories, blank channels, NA amounts) trained for
    each task, missing cells imputed: classification of `decision`, unseen categories as zeros;
    regression of `prior_claims`, unseen categories refused."""
    base = tmp_path_factory.mktemp("claims")
    settings = {
        "classification": "target: decision, unknown_categories: zeros",
        "regression": "target: prior_claims, task: regression",
    }
    runs = {}
    for task, data in settings.items():
        config = base / f"{task}.yaml"
        config.write_text(
            f"data: {{source: {ROOT / 'data/claims.csv'}, {data}, ignore_columns: [claim_id],"
            " missing: impute, impute: median}\ntraining: {epochs: 3}\n"
        )
        runs[task] = Path(run_train(config, [], out=base / task).to_json()["run_dir"])
    return runs


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_plain_pytorch_loader_encodes_categories_and_missing_cells_as_nncli_predict(
    claims_models, tmp_path, task
):
    from nncli.app.predicting import predict
    from nncli.errors import UsageError

    run = claims_models[task]
    lines = (ROOT / "data/claims.csv").read_text().splitlines()
    # Every row, with blanks in channel and NA in amount, and some spaces and letter cases
    # that nncli reads as it reads the training file.
    rows = [*lines, "N001, east ,,na,2,True,approve", "N002,west,phone, 99.5 ,1,False,"]
    data = tmp_path / "rows.csv"
    data.write_text("\n".join(rows) + "\n")
    namespace = plain_loader(run / "model.safetensors", data)
    _, card = load_checkpoint(run / "model.safetensors")
    fills = {c["name"]: c["fill"] for c in card.encoding["columns"]}
    assert fills["channel"] in ("agent", "online", "phone") and fills["amount"] > 0
    expected = predict(run, data).table
    assert len(expected) == len(rows) - 1
    if task == "classification":
        probabilities = expected[[f"probability_{c}" for c in card.classes]].to_numpy()
        np.testing.assert_array_equal(namespace["outputs"].numpy(), probabilities)
    else:
        np.testing.assert_array_equal(namespace["outputs"].numpy(), expected["prediction"])

    unseen = tmp_path / "unseen.csv"
    unseen.write_text(f"{lines[0]}\nN003,space,phone,10,0,True,approve\n")
    if task == "classification":  # unknown_categories: zeros, in both
        probabilities = predict(run, unseen).table.filter(like="probability_").to_numpy()
        got = plain_loader(run / "model.safetensors", unseen)["outputs"].numpy()
        np.testing.assert_array_equal(got, probabilities)
    else:
        with pytest.raises(UsageError, match="category 'space' is not in the training split"):
            predict(run, unseen)
        with pytest.raises(ValueError, match="region: category 'space' is not in the training"):
            plain_loader(run / "model.safetensors", unseen)


def test_the_plain_pytorch_loader_refuses_a_missing_cell_nncli_would_not_fill(
    every_activation, tmp_path
):
    from nncli.app.predicting import predict
    from nncli.errors import UsageError

    checkpoint = every_activation["classification", "relu"]  # moons: nothing to impute
    _, card = load_checkpoint(checkpoint)
    assert [c["fill"] for c in card.encoding["columns"]] == [None, None]
    data = tmp_path / "blank.csv"
    data.write_text(f"{card.feature_names[0]},{card.feature_names[1]}\n0.5,\n")
    with pytest.raises(UsageError, match="missing value"):
        predict(checkpoint, data)
    with pytest.raises(ValueError, match=f"{card.feature_names[1]}: missing value"):
        plain_loader(checkpoint, data)


def test_sine_fits_inside_its_training_range_and_not_beyond(tmp_path):
    from nncli.app.saved import evaluate

    run_dir = Path(
        run_train(ROOT / "configs/sine.yaml", [], out=tmp_path / "sine").to_json()["run_dir"]
    )
    inside = evaluate(run_dir, data=ROOT / "data/sine_inside.csv").to_json()["metrics"]
    outside = evaluate(run_dir, data=ROOT / "data/sine_outside.csv").to_json()["metrics"]
    assert inside["r2"] > 0.99 and outside["r2"] < 0.5
    assert outside["mse"] > 100 * inside["mse"]
    for figure in ("fit.png", "errors.png"):
        assert (run_dir / figure).read_bytes()[:4] == b"\x89PNG"


def test_the_data_pages_example_is_what_nncli_prints(tmp_path):
    from typer.testing import CliRunner

    from nncli.cli import app

    section = (ROOT / "docs/data.md").read_text().split("# Data\n", 1)[1].split("\n## ", 1)[0]
    shown = re.search(r"```console\n(.*?)```", section, flags=re.S).group(1).splitlines()
    run = tmp_path / "claims"
    result = CliRunner().invoke(
        app, ["train", str(ROOT / "configs/claims_csv.yaml"), "--out", str(run)]
    )
    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    assert shown[1:5] == printed[:4]  # the setup line and its notes
    assert [line for line in shown if line.startswith("│")][:4] == [
        line for line in printed if line.startswith("│")
    ][:4]  # the metrics
    new = tmp_path / "new_claims.csv"
    new.write_text("\n".join(shown[shown.index("$ cat new_claims.csv") + 1 :][:4]) + "\n")
    predicted = CliRunner().invoke(app, ["predict", str(run), "--data", str(new)])
    start = shown.index("$ nncli predict runs/claims --data new_claims.csv") + 1
    # Probabilities to 1e-9 absolute: their last digits move with the library versions (numpy
    # 2.4 and pandas 3.1 moved 3.1285017e-11 to 3.1285106e-11); the labels must be the same.
    assert _cells(predicted.stdout.splitlines()) == _cells(shown[start : start + 4], approx=True)


def _cells(lines: list[str], *, approx: bool = False) -> list[list[object]]:
    """CSV lines split into cells, numbers as floats (or as values to within 1e-9)."""

    def cell(text: str) -> object:
        try:
            number = float(text)
        except ValueError:
            return text
        return pytest.approx(number, rel=1e-6, abs=1e-9) if approx else number

    return [[cell(text) for text in line.split(",")] for line in lines]

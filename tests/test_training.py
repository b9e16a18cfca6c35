"""train_stack: class weights as scikit-learn defines them, and what they do to a rare class."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nncli.config.loading import validate_config
from nncli.data.prepared import prepare_data
from nncli.errors import UsageError
from nncli.train.stack import class_weights, train_stack


@pytest.fixture
def rare_class_csv(tmp_path):
    """Two overlapping clouds, one ten times rarer: accuracy looks fine while it is missed."""
    rng = np.random.default_rng(0)
    common, rare = rng.normal(0, 1, (900, 2)), rng.normal(1.2, 1, (90, 2))
    rows = [(*x, "common") for x in common] + [(*x, "rare") for x in rare]
    lines = ["a,b,kind"] + [f"{a:.5f},{b:.5f},{k}" for a, b, k in rows]
    path = tmp_path / "rare.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def config(path, **training):
    return validate_config(
        {
            "data": {"source": str(path), "target": "kind"},
            "model": {"depth": 1, "width": 8},
            "training": {"epochs": 15, "lr": 0.1, **training},
        }
    )


def test_balanced_weights_are_scikit_learns(rare_class_csv):
    from sklearn.utils.class_weight import compute_class_weight

    prepared = prepare_data(config(rare_class_csv).data)
    y = prepared.raw["train"][1]
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)
    weights = class_weights(config(rare_class_csv, class_weight="balanced"), prepared)
    torch.testing.assert_close(weights, torch.tensor(expected, dtype=torch.float32))
    named = class_weights(config(rare_class_csv, class_weight={"rare": 5}), prepared)
    assert named.tolist() == [1.0, 5.0]


def test_balanced_weights_find_the_rare_class_that_accuracy_hides(rare_class_csv):
    plain, balanced = (config(rare_class_csv), config(rare_class_csv, class_weight="balanced"))
    prepared = prepare_data(plain.data)
    (unweighted,) = train_stack([plain], prepared)
    (weighted,) = train_stack([balanced], prepared)
    rare = 1  # classes are sorted: common, rare
    before = unweighted.metrics["test"]["per_class"][rare]["recall"]
    after = weighted.metrics["test"]["per_class"][rare]["recall"]
    assert after > before + 0.2, (before, after)


def test_a_weighted_stack_trains_each_model_as_alone(rare_class_csv):
    configs = [config(rare_class_csv, class_weight="balanced").model_copy(update={"seed": s})
               for s in (0, 1)]  # fmt: skip
    prepared = prepare_data(configs[0].data)
    stacked = train_stack(configs, prepared)
    for together, alone_config in zip(stacked, configs, strict=True):
        (alone,) = train_stack([alone_config], prepared)
        assert together.losses["test"] == pytest.approx(alone.losses["test"], rel=1e-4)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"rarer": 2}, "training.class_weight: 'rarer' is not a class; the classes are"),
    ],
)
def test_class_weights_that_do_not_fit_the_data_are_refused(rare_class_csv, weights, message):
    prepared = prepare_data(config(rare_class_csv).data)
    with pytest.raises(UsageError, match=message):
        class_weights(config(rare_class_csv, class_weight=weights), prepared)


def test_class_weights_apply_to_classification_only():
    regression = validate_config(
        {"data": {"source": "sine"}, "training": {"class_weight": "balanced"}}
    )
    with pytest.raises(UsageError, match="applies to classification only"):
        class_weights(regression, prepare_data(regression.data))


def test_the_positive_class_names_what_binary_scores_score(rare_class_csv, tmp_path):
    from typer.testing import CliRunner

    from nncli.cli import app

    (tmp_path / "c.yaml").write_text(
        f"data: {{source: {rare_class_csv}, target: kind, positive_class: common}}\n"
        "training: {epochs: 5}\n"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(tmp_path / "c.yaml"), "--json", "--out",
                                 str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    test = json.loads(result.stdout)["metrics"]["test"]
    assert test["recall"] == pytest.approx(test["per_class"][0]["recall"])  # common: index 0
    assert test["recall"] != pytest.approx(test["per_class"][1]["recall"])
    bad = runner.invoke(app, ["train", str(tmp_path / "c.yaml"), "-s", "data.positive_class=x",
                              "--out", str(tmp_path / "never")])  # fmt: skip
    assert bad.exit_code == 2 and "data.positive_class: 'x' is not a class" in bad.stderr
    assert not (tmp_path / "never").exists()


TF32_ON_CPU = "training.precision tf32 applies to CUDA matrix products; on the CPU it is fp32"


@pytest.mark.parametrize(
    ("precision", "shown", "warned"),
    [
        ("fp32", "; on cpu, ", []),
        ("bf16", "; on cpu in bf16, ", []),
        ("tf32", "; on cpu, ", [TF32_ON_CPU]),
    ],
)
def test_the_setup_line_names_the_precision_and_tf32_on_the_cpu_is_a_warning(
    tiny_moons, tmp_path, precision, shown, warned
):
    from nncli.app.commands import run_train
    from nncli.grid.session import Session

    info, warnings = [], []
    session = Session(on_setup=lambda setup: info.append(setup.text), on_warning=warnings.append)
    run_train(tiny_moons, [f"training.precision={precision}"], out=tmp_path / precision,
              session=session)  # fmt: skip
    assert shown in info[0]
    assert warnings == warned


def test_precision_and_cuda_graphs_reach_the_engine(tiny_moons, monkeypatch):
    import nncli.train.stack
    from nncli.config.loading import load_config

    seen = {}
    real_fit = nncli.train.stack.fit

    def spy(*args, **kwargs):
        options = args[3]
        seen.update(precision=options.precision, cuda_graphs=options.cuda_graphs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(nncli.train.stack, "fit", spy)
    config = load_config(tiny_moons, ["training.precision=bf16", "training.cuda_graphs=true"])
    train_stack([config], prepare_data(config.data))
    assert seen == {"precision": "bf16", "cuda_graphs": True}


def test_train_stack_leaves_torchs_threads_and_matmul_precision_as_it_found_them(tiny_moons):
    from nncli.config.loading import load_config
    from nncli.train.state import TrainingStopped

    before = torch.get_num_threads()
    tf32 = torch.backends.cuda.matmul.allow_tf32
    other = 2 if before != 2 else 1
    config = load_config(tiny_moons, [f"training.threads={other}", "training.precision=tf32"])
    prepared = prepare_data(config.data)
    train_stack([config], prepared)
    assert torch.get_num_threads() == before
    assert torch.backends.cuda.matmul.allow_tf32 == tf32
    with pytest.raises(TrainingStopped):  # a stop request leaves them as found too
        train_stack([config], prepared, should_stop=lambda: True)
    assert torch.get_num_threads() == before
    assert torch.backends.cuda.matmul.allow_tf32 == tf32


def test_a_stack_hashes_its_data_and_describes_its_card_once(tiny_moons, monkeypatch):
    import hashlib

    import nncli.train.stack
    from nncli.config.loading import load_config
    from nncli.model.card import ModelCard

    calls = {"sha256": 0, "describe": 0, "class_weights": 0}
    real_sha256, real_describe = hashlib.sha256, ModelCard.describe.__func__
    real_weights = nncli.train.stack.class_weights

    def counted(name, function):
        def count(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return count

    monkeypatch.setattr(hashlib, "sha256", counted("sha256", real_sha256))
    monkeypatch.setattr(ModelCard, "describe", classmethod(counted("describe", real_describe)))
    monkeypatch.setattr(nncli.train.stack, "class_weights", counted("class_weights", real_weights))
    config = load_config(tiny_moons)
    configs = [config.model_copy(update={"seed": s}) for s in (0, 1, 2)]
    prepared = prepare_data(config.data)
    fits = train_stack(configs, prepared)
    assert calls == {"sha256": 1, "describe": 1, "class_weights": 1}
    assert fits[0].card.data_fingerprint == prepared.fingerprint()
    for fit, alone in zip(fits, configs, strict=True):  # each card is the one its config gets
        assert fit.card == real_describe(ModelCard, alone, prepared)

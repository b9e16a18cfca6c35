"""Checkpoints: a safetensors round trip, plain-library loading, and refusing bad files."""

from __future__ import annotations

import json
import os
import pickle
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from nncli.errors import UsageError
from nncli.model.card import ModelCard
from nncli.model.mlp import build_mlp, seeded_mlp
from nncli.runs.checkpoint import FORMAT, FORMAT_VERSION, load_checkpoint, save_checkpoint

CARDS = {
    "classification": ModelCard(
        config={"seed": 3, "model": {"widths": [5, 4], "activation": "tanh"}},
        task="classification",
        sizes=[2, 5, 4, 3],
        activation="tanh",
        feature_names=["x1", "x2"],
        target_name="label",
        classes=["a", "b", "c"],
        feature_scaling={"kind": "standard", "offset": [0.5, -1.0], "scale": [2.0, 0.25]},
        target_scaling=None,
    ),
    "regression": ModelCard(
        config={"seed": 1},
        task="regression",
        sizes=[3, 1],
        activation="relu",
        feature_names=["a", "b", "c"],
        target_name="y",
        classes=None,
        feature_scaling={"kind": "none", "offset": [0.0, 0.0, 0.0], "scale": [1.0, 1.0, 1.0]},
        target_scaling={"kind": "standard", "offset": 10.0, "scale": 4.0},
    ),
}


@pytest.fixture
def card() -> ModelCard:
    return CARDS["classification"]


@pytest.fixture
def saved(tmp_path: Path, card: ModelCard) -> Path:
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, seeded_mlp(card.sizes, card.activation, 0), card)
    return path


def rewrite(path: Path, out: Path, **metadata_changes: str | None) -> Path:
    """Copy a checkpoint with some header metadata replaced (None removes the key)."""
    with safe_open(str(path), "pt") as handle:
        metadata = dict(handle.metadata())
    for key, value in metadata_changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    save_file(load_file(path), out, metadata=metadata)
    return out


def with_card_changes(path: Path, out: Path, **changes: object) -> Path:
    with safe_open(str(path), "pt") as handle:
        card = json.loads(handle.metadata()["nncli"])
    card.update(changes)
    return rewrite(path, out, nncli=json.dumps(card))


@pytest.mark.parametrize("task", sorted(CARDS))
def test_round_trip_keeps_weights_and_card(tmp_path, task):
    card = CARDS[task]
    net = seeded_mlp(card.sizes, card.activation, 7)
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, net, card)
    loaded, loaded_card = load_checkpoint(path)
    assert isinstance(loaded, torch.nn.Sequential)
    assert loaded_card == card
    original, restored = net.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for name in original:
        assert torch.equal(original[name], restored[name]), name
    assert not loaded.training
    x = np.random.default_rng(0).normal(size=(6, card.sizes[0]))
    np.testing.assert_array_equal(card.predict_raw(net, x), loaded_card.predict_raw(loaded, x))


def test_file_loads_with_plain_safetensors_into_a_plain_module(saved, card):
    net = build_mlp(card.sizes, card.activation)
    net.load_state_dict(load_file(saved), strict=True)
    reference = seeded_mlp(card.sizes, card.activation, 0)
    for a, b in zip(net.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
    with safe_open(str(saved), "pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == FORMAT
    assert metadata["format_version"] == str(FORMAT_VERSION)
    assert ModelCard(**json.loads(metadata["nncli"])) == card


def test_saving_leaves_no_temporary_files(tmp_path, card):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, seeded_mlp(card.sizes, card.activation, 0), card)
    save_checkpoint(path, seeded_mlp(card.sizes, card.activation, 1), card)  # overwrite
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    loaded, _ = load_checkpoint(path)
    assert torch.equal(loaded[0].weight, seeded_mlp(card.sizes, card.activation, 1)[0].weight)


def test_a_failed_save_leaves_no_temporary_file_and_keeps_the_old_one(tmp_path, card, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, seeded_mlp(card.sizes, card.activation, 0), card)
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    # A write failure is reported as one line naming the file, not an OSError traceback.
    with pytest.raises(UsageError, match=r"model\.safetensors: cannot write: disk full"):
        save_checkpoint(path, seeded_mlp(card.sizes, card.activation, 1), card)
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    assert path.read_bytes() == before


class _Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@pytest.mark.parametrize("how", ["torch.save", "raw pickle"])
def test_malicious_pickle_is_refused_without_running_it(tmp_path, how):
    def write(path: Path, marker: Path) -> None:
        if how == "torch.save":
            torch.save({"0.weight": _Payload(marker)}, path)
        else:
            path.write_bytes(pickle.dumps(_Payload(marker)))

    # The payload is live: an unpickler really would run it.
    proof, proof_marker = tmp_path / "proof.pt", tmp_path / "proof-ran"
    write(proof, proof_marker)
    if how == "torch.save":
        torch.load(proof, weights_only=False)
    else:
        pickle.loads(proof.read_bytes())
    assert proof_marker.exists()

    evil, marker = tmp_path / "evil.pt", tmp_path / "pwned"
    write(evil, marker)
    with pytest.raises(UsageError, match=r"not a readable nncli checkpoint.*never loaded"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(UsageError, match="checkpoint file is empty") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    half = tmp_path / "half.safetensors"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(UsageError, match="not a readable nncli checkpoint") as info:
        load_checkpoint(half)
    assert str(half) in str(info.value)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_garbage(tmp_path, seed):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(np.random.default_rng(seed).bytes(256))
    with pytest.raises(UsageError, match="not a readable nncli checkpoint"):
        load_checkpoint(path)


def test_garbage_with_a_plausible_header_length(tmp_path):
    # A small length prefix, so the parser reads on into bytes that are not JSON.
    path = tmp_path / "garbage.safetensors"
    path.write_bytes((16).to_bytes(8, "little") + b"\xff" * 40)
    with pytest.raises(UsageError, match="not a readable nncli checkpoint"):
        load_checkpoint(path)


def test_safetensors_file_without_nncli_metadata(tmp_path, card):
    path = tmp_path / "other.safetensors"
    save_file(seeded_mlp(card.sizes, card.activation, 0).state_dict(), path)
    with pytest.raises(UsageError, match="a safetensors file, but not an nncli checkpoint"):
        load_checkpoint(path)


def test_newer_format_version_asks_for_an_upgrade(saved, tmp_path):
    path = rewrite(saved, tmp_path / "future.safetensors", format_version="999")
    with pytest.raises(UsageError, match=r"format 999 is newer .*\(up to 2\); upgrade nncli"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "version", ["one", "", "-1", "²"], ids=["word", "empty", "negative", "superscript-two"]
)
def test_format_version_that_is_not_a_number(saved, tmp_path, version):
    path = rewrite(saved, tmp_path / "odd.safetensors", format_version=version)
    with pytest.raises(UsageError, match=r"format_version .* is not a number"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_saved_sizes(saved, tmp_path):
    path = with_card_changes(saved, tmp_path / "resized.safetensors", sizes=[2, 6, 4, 3])
    with pytest.raises(UsageError, match="weights do not fit the saved architecture") as info:
        load_checkpoint(path)
    assert "0.weight" in str(info.value)
    assert "\n" not in str(info.value)


def test_weights_for_fewer_layers_than_the_saved_sizes(saved, tmp_path):
    path = with_card_changes(saved, tmp_path / "deeper.safetensors", sizes=[2, 5, 4, 4, 3])
    with pytest.raises(UsageError, match="weights do not fit the saved architecture"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "changes",
    [
        {"activation": "swishy"},
        {"sizes": None},
        {"sizes": [2, 2.5, 3]},
        {"sizes": [2, -5, 4, 3]},
        {"unexpected": 1},
    ],
    ids=["unknown-activation", "no-sizes", "float-size", "negative-size", "extra-key"],
)
def test_invalid_card_metadata(saved, tmp_path, changes):
    path = with_card_changes(saved, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(UsageError, match="checkpoint metadata is incomplete or invalid"):
        load_checkpoint(path)


@pytest.mark.parametrize("nncli", [None, "not json", "[1, 2]"], ids=["missing", "bad-json", "list"])
def test_missing_or_unparsable_card(saved, tmp_path, nncli):
    path = rewrite(saved, tmp_path / "bad.safetensors", nncli=nncli)
    with pytest.raises(UsageError, match="checkpoint metadata is incomplete or invalid"):
        load_checkpoint(path)


# --- crafted checkpoints: every fault is one line (UsageError, exit 2), never an internal error --


def with_weights(path: Path, out: Path, convert) -> Path:
    """A copy of a checkpoint with every tensor passed through `convert`."""
    with safe_open(str(path), "pt") as handle:
        metadata = dict(handle.metadata())
    save_file({k: convert(v) for k, v in load_file(path).items()}, out, metadata=metadata)
    return out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_weights_of_another_float_type_are_read_as_float32(saved, tmp_path, dtype):
    other = with_weights(saved, tmp_path / "other.safetensors", lambda t: t.to(dtype))
    net, card = load_checkpoint(other)
    reference, _ = load_checkpoint(saved)
    x = np.array([[0.3, -1.2], [2.0, 0.1]])
    assert net[0].weight.dtype == torch.float32
    tolerance = 1e-6 if dtype == torch.float64 else 1e-2
    np.testing.assert_allclose(card.predict_raw(net, x), card.predict_raw(reference, x),
                               atol=tolerance)  # fmt: skip


@pytest.mark.parametrize(
    ("convert", "message"),
    [
        (lambda t: t.to(torch.int32), "weights must be floating point, got int32"),
        (lambda t: t.fill_(float("nan")), "weights hold NaN or infinite values"),
    ],
    ids=["int32", "nan"],
)
def test_weights_that_are_not_finite_floats_are_refused(saved, tmp_path, convert, message):
    bad = with_weights(saved, tmp_path / "bad.safetensors", convert)
    with pytest.raises(UsageError, match=message):
        load_checkpoint(bad)


# A valid encoding of the classification card's inputs, and its columns, to break one by one.
X1 = {"name": "x1", "kind": "numeric", "categories": [], "fill": None}
CODE = {"name": "x2", "kind": "categorical", "categories": ["p"], "fill": None}
ENCODING = {"columns": [X1, {**X1, "name": "x2"}], "missing": "error", "missing_values": [],
            "unknown_categories": "error"}  # fmt: skip

BAD_CARDS = {
    "scaling-not-a-mapping": {"feature_scaling": "x"},
    "scaling-wrong-length": {"feature_scaling": {"kind": "standard", "offset": [0.0],
                                                 "scale": [1.0, 1.0, 1.0]}},
    "scaling-nan": {"feature_scaling": {"kind": "standard", "offset": [0.0, 0.0],
                                        "scale": [float("nan"), 1.0]}},
    "scaling-zero": {"feature_scaling": {"kind": "standard", "offset": [0.0, 0.0],
                                         "scale": [0.0, 1.0]}},
    "scaling-kind": {"feature_scaling": {"kind": "log", "offset": [0.0, 0.0], "scale": [1, 1]}},
    "scaling-ragged": {"feature_scaling": {"kind": "none", "offset": [0, [1]], "scale": [1, 1]}},
    "target-scaling": {"target_scaling": {"kind": "standard", "offset": 0.0, "scale": 1.0}},
    "classes-null": {"classes": None},
    "classes-short": {"classes": ["a", "b"]},
    "classes-long": {"classes": ["a", "b", "c", "d"]},
    "classes-twice": {"classes": ["a", "a", "b"]},
    "classes-bool": {"classes": [True, False, "c"]},
    "features-short": {"feature_names": ["x1"]},
    "features-not-strings": {"feature_names": [1, 2]},
    "config-not-a-mapping": {"config": "zzz"},
    "ignore-not-a-list": {"config": {"data": {"ignore_columns": "id"}}},
    "target-name": {"target_name": ["y"]},
    "fingerprint": {"data_fingerprint": 5},
    "huge-size": {"sizes": [2, 10**30, 4, 3]},
    "huge-key": {"x" * 100_000: 1},
    "features-not-a-list": {"config": {"data": {"features": "x1"}}},
    "encoding-not-a-mapping": {"encoding": "x"},
    "encoding-other-inputs": {"encoding": ENCODING | {"columns": [X1, CODE | {"name": "c"}]}},
    "encoding-fill-not-a-category": {"encoding": ENCODING | {"columns": [X1, CODE | {"fill": 1}]}},
    "encoding-numeric-fill": {"encoding": ENCODING | {"columns": [X1 | {"fill": "1"}, CODE]}},
    "encoding-kind": {"encoding": ENCODING | {"columns": [X1 | {"kind": "date"}, CODE]}},
    "encoding-policy": {"encoding": ENCODING | {"missing": "guess"}},
}  # fmt: skip


@pytest.mark.parametrize("changes", BAD_CARDS.values(), ids=BAD_CARDS.keys())
def test_a_malformed_model_card_is_one_short_line(saved, tmp_path, changes):
    path = with_card_changes(saved, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(UsageError, match="checkpoint metadata is incomplete or invalid") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400 + len(str(path))


def test_a_version_1_checkpoint_without_an_encoding_still_loads_and_predicts(saved, tmp_path):
    from typer.testing import CliRunner

    from nncli.cli import app

    old = rewrite(saved, tmp_path / "v1.safetensors", format_version="1")
    _, card = load_checkpoint(old)
    assert card.encoding is None and card.encoder.feature_names == ["x1", "x2"]
    data = tmp_path / "d.csv"
    data.write_text("x2,x1,id\n1.0,0.5,a\n2,3,b\n")
    result = CliRunner().invoke(app, ["predict", str(old), "--data", str(data)])
    assert result.exit_code == 0, result.output
    header = "id,prediction,probability_a,probability_b,probability_c"
    assert result.stdout.splitlines()[0] == header


def test_a_regression_card_with_classes_or_several_outputs_is_refused(tmp_path):
    card = CARDS["regression"]
    path = tmp_path / "r.safetensors"
    save_checkpoint(path, seeded_mlp(card.sizes, card.activation, 0), card)
    for changes in ({"classes": [1]}, {"target_scaling": {"kind": "standard", "offset": [1.0],
                                                          "scale": [1.0]}}):  # fmt: skip
        bad = with_card_changes(path, tmp_path / "bad.safetensors", **changes)
        with pytest.raises(UsageError, match="checkpoint metadata is incomplete or invalid"):
            load_checkpoint(bad)


@pytest.mark.parametrize(
    "metadata",
    [
        {"format_version": "1" * 100_000},
        {"format_version": "0" * 100_000 + "1"},
        {"nncli": "[" * 100_000 + "]" * 100_000},
    ],
    ids=["version-of-100000-digits", "padded-version", "deeply-nested-card"],
)
def test_absurd_metadata_is_one_line(saved, tmp_path, metadata):
    path = rewrite(saved, tmp_path / "absurd.safetensors", **metadata)
    with pytest.raises(UsageError) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400 + len(str(path))


def test_crafted_checkpoints_exit_2_from_the_cli(saved, tmp_path):
    from typer.testing import CliRunner

    from nncli.cli import app

    data = tmp_path / "d.csv"
    data.write_text("x1,x2\n0.5,1.0\n")
    for name in ("classes-null", "scaling-wrong-length", "config-not-a-mapping"):
        path = with_card_changes(saved, tmp_path / f"{name}.safetensors", **BAD_CARDS[name])
        result = CliRunner().invoke(app, ["predict", str(path), "--data", str(data)])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_thousands_of_unexpected_tensors_give_a_short_line(saved, tmp_path):
    with safe_open(str(saved), "pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(saved) | {f"extra.{i}": torch.zeros(1) for i in range(5000)}
    save_file(tensors, tmp_path / "extra.safetensors", metadata=metadata)
    with pytest.raises(UsageError, match="weights do not fit the saved architecture") as info:
        load_checkpoint(tmp_path / "extra.safetensors")
    assert len(str(info.value)) < 400 + len(str(tmp_path))  # torch's message named all 5000


def test_a_model_saved_with_a_since_retired_config_key_still_evaluates(tiny_moons, tmp_path):
    """Models of earlier versions saved `training.early_stopping.monitor`; they still load."""
    from typer.testing import CliRunner

    from nncli.cli import app

    out = tmp_path / "run"
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(tiny_moons), "--out", str(out), "--quiet",
                                  "--set", "training.early_stopping.patience=3"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    path = out / "model.safetensors"
    with safe_open(str(path), "pt") as handle:
        card = json.loads(handle.metadata()["nncli"])
    card["config"]["training"]["early_stopping"]["monitor"] = "val_loss"
    with_card_changes(path, path, config=card["config"])
    result = runner.invoke(app, ["evaluate", str(out), "--split", "test"])
    assert result.exit_code == 0, result.output

"""Safetensors files nncli reads (runs/tensorfile.py): a header is checked before any data is read,
loading is refused where it would not fit in memory, and a resumable state that is malformed,
of another shape than its config.yaml or holds non-finite numbers where training cannot put them
is one line naming the file and the field, exit 2, the run left interrupted and resumable
(issue 23, items 8 and 9). Every case runs the real CLI under `limited_cli`'s address-space
limit, in one child process."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from nncli.app.commands import run_train
from nncli.errors import Interrupted
from nncli.grid.session import Session


def _metadata(path: Path) -> dict:
    with safe_open(str(path), "pt") as handle:
        return dict(handle.metadata())


def _tensors(change):
    def craft(path: Path) -> None:
        tensors, metadata = load_file(path), _metadata(path)
        change(tensors)
        save_file(tensors, path, metadata=metadata)

    return craft


def _loop(change):
    def craft(path: Path) -> None:
        tensors, metadata = load_file(path), _metadata(path)
        loop = json.loads(metadata["loop"])
        change(loop, tensors)
        metadata["loop"] = json.dumps(loop)
        save_file(tensors, path, metadata=metadata)

    return craft


def _header(change):
    """Rewrite the JSON header, keeping the data after it."""

    def craft(path: Path) -> None:
        data = path.read_bytes()
        n = struct.unpack("<Q", data[:8])[0]
        header = change(json.loads(data[8 : 8 + n])).encode()
        path.write_bytes(struct.pack("<Q", len(header)) + header + data[8 + n :])

    return craft


def _raw(change):
    def craft(path: Path) -> None:
        path.write_bytes(change(path.read_bytes()))

    return craft


def _twice(header: dict) -> str:
    first = json.dumps({"param.0": header["param.0"]})[1:-1]
    return "{" + first + "," + json.dumps(header)[1:]


def _wider(tensors: dict) -> None:  # every tensor of a width-16 network, consistent in itself
    for name in list(tensors):
        if name.split(".")[0] in ("param", "best", "momentum"):
            shape = [16 if n == 8 else n for n in tensors[name].shape]
            tensors[name] = torch.zeros(shape)


def _two_models(loop: dict, tensors: dict) -> None:
    loop["n_models"] = 2
    loop["records"] *= 2
    loop["tracker"] = {key: value * 2 for key, value in loop["tracker"].items()}
    for name in list(tensors):
        if not name.startswith("shuffler"):
            tensors[name] = torch.cat([tensors[name], tensors[name]])
    tensors["shuffler.1"] = tensors["shuffler.0"].clone()


def _two_models_with_history(path: Path) -> None:
    """Two models where the run has one, each with its rows in the history file beside."""
    _loop(_two_models)(path)
    history = path.with_name("last.history.jsonl")
    header, *lines = history.read_text().splitlines()
    copies = [json.dumps([1, row]) for model, row in map(json.loads, lines) if model == 0]
    history.write_text("\n".join([header, *lines, *copies]) + "\n")


def _history_of_strings(path: Path) -> None:
    history = path.with_name("last.history.jsonl")
    header, first, *rest = history.read_text().splitlines()
    model, row = json.loads(first)
    history.write_text("\n".join([header, json.dumps([model, row | {"epoch": "x"}]), *rest]) + "\n")


def _nan(name: str):
    return _tensors(lambda t: t[name].view(-1)[0].fill_(float("nan")))


# case: (how last.safetensors of a run stopped inside its second epoch is broken, what the
# one line says after "cannot resume from this file: ")
STATE_CASES = {
    "more-models-than-the-grid": (_two_models_with_history, "it holds 2 model(s); this stack has"),
    "shapes-of-another-width": (_tensors(_wider), "param.0 of shape (1, 16, 2); the run's layer"),
    "records-shorter-than-the-stack": (_loop(lambda loop, t: loop.update(records=[])), "param"),
    "nan-weights-within-an-epoch": (_nan("param.1"), "param.1: model 0's weights are not finite"),
    "nan-best-weights": (_nan("best.0"), "best.0: model 0's best weights are not finite"),
    "nan-momentum": (_nan("momentum.2"), "momentum.2: model 0's numbers are not finite while"),
    "nan-outputs": (_nan("outputs"), "outputs: model 0's numbers are not finite while"),
    "history-of-strings": (_history_of_strings, "its history has a malformed row"),
    "diverged-a-string": (
        _loop(lambda loop, t: loop["records"][0].update(diverged="ab")),
        "records.0.diverged is malformed",
    ),
    "best-loss-nan": (
        _loop(lambda loop, t: loop["tracker"].update(best_loss=[float("nan")])),
        "tracker is malformed",
    ),
    "loop-a-list": (_tensors(lambda t: None), None),  # replaced below: metadata, not tensors
    "a-shuffler-missing": (_loop(lambda loop, t: loop.update(n_models=2)), "no 'shuffler.1'"),
    "duplicate-key": (_header(_twice), "header: 'param.0' appears twice"),
    "negative-shape": (
        _header(lambda h: json.dumps(h).replace('"shape": [1, 8, 2]', '"shape": [1, -8, 2]')),
        "shape [1, -8, 2] is not a list of sizes",
    ),
    "dtype-unknown": (
        _header(lambda h: json.dumps(h).replace('"F32"', '"Q99"', 1)),
        "dtype 'Q99' is not one nncli reads",
    ),
    "dtype-of-other-size": (
        _header(lambda h: json.dumps(h).replace('"F32"', '"F64"', 1)),
        "its F64 shape",
    ),
    "shape-claiming-40000-squared": (
        _header(
            lambda h: json.dumps(h).replace('"shape": [1, 8, 8]', '"shape": [1, 40000, 40000]')
        ),
        "takes 6,400,000,000",
    ),
    "truncated-header": (_raw(lambda d: d[:40]), "the file ends before them"),
    "huge-header-length": (_raw(lambda d: struct.pack("<Q", 2**62) + d[8:]), "safetensors allows"),
    "four-bytes": (_raw(lambda d: d[:4]), "too short for a safetensors header"),
    "trailing-bytes": (_raw(lambda d: d + b"\0" * 64), "its header accounts for"),
    "truncated-data": (_raw(lambda d: d[:-64]), "its header accounts for"),
    "header-nested-deep": (
        _raw(lambda d: struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000),
        "header: nested too deeply",
    ),
}


def _loop_a_list(path: Path) -> None:
    tensors, metadata = load_file(path), _metadata(path)
    save_file(tensors, path, metadata=metadata | {"loop": "[]"})


STATE_CASES["loop-a-list"] = (_loop_a_list, "loop is not a mapping")


def _width_40000(folder: Path) -> None:
    """config.yaml and the state's copy of it both say width 40,000: consistent, too large."""
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["model"]["width"] = 40_000
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    path = folder / "last.safetensors"
    tensors, metadata = load_file(path), _metadata(path)
    info = json.loads(metadata["info"])
    info["config"]["model"]["width"] = 40_000
    info["grid"]["raw"]["model"]["width"] = 40_000
    save_file(tensors, path, metadata=metadata | {"info": json.dumps(info)})


def _sparse_checkpoint(path: Path, card: str) -> None:
    """A valid checkpoint of layer sizes 2, 20000, 20000, 2 in float16 (800 MB, zeros, sparse
    on disk): under the checkpoint limit, but loading it takes more than the child has."""
    shapes = {"0.weight": [20000, 2], "0.bias": [20000], "2.weight": [20000, 20000],
              "2.bias": [20000], "4.weight": [2, 20000], "4.bias": [2]}  # fmt: skip
    header, at = {"__metadata__": json.loads(card)}, 0
    for name, shape in shapes.items():
        size = 2 * int(torch.tensor(shape).prod())
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [at, at + size]}
        at += size
    text = json.dumps(header).encode()
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text)
        handle.truncate(8 + len(text) + at)


class _StopAt:
    """A stop request (as conftest's `stop_after`) that says yes on its `calls`-th question."""

    exit_code = 130

    def __init__(self, calls: int):
        self.asked, self.calls = 0, calls

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked >= self.calls


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, limited_cli, make_config) -> dict:
    """Every case's folder and CLI outcome, from one memory-limited child."""
    base = tmp_path_factory.mktemp("hostile")
    config = base / "cfg.yaml"
    config.write_text(yaml.safe_dump(make_config()))
    cut = base / "cut"
    with pytest.raises(Interrupted):  # inside epoch 2, at its step 2
        run_train(config, [], out=cut, session=Session(should_stop=_StopAt(12)))
    done = base / "done"
    run_train(config, ["training.epochs=1"], out=done)
    cases, folders = {}, {}
    for name, (craft, _) in STATE_CASES.items():
        folder = folders[name] = base / name
        shutil.copytree(cut, folder)
        craft(folder / "last.safetensors")
        cases[name] = (["train", "--resume", folder, "-q"], base)
    folders["width-40000"] = base / "width-40000"
    shutil.copytree(cut, folders["width-40000"])
    _width_40000(folders["width-40000"])
    cases["width-40000"] = (["train", "--resume", folders["width-40000"], "-q"], base)
    big = folders["big-checkpoint"] = base / "big.safetensors"
    _sparse_checkpoint(big, json.dumps(_metadata(done / "model.safetensors")))
    cases["big-checkpoint"] = (["evaluate", big], base)
    figures = folders["many-figures"] = base / "figures"
    shutil.copytree(done, figures)
    (figures / "report.html").unlink()
    for i in range(200):  # each under the 32 MiB a figure may have; 6 GB together
        with (figures / f"extra-{i:03}.png").open("wb") as handle:
            handle.truncate(31 << 20)
    cases["many-figures"] = (["report", figures, "--no-open"], base)
    return {name: (folders[name], result) for name, result in limited_cli(cases).items()}


def _one_line(result) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def _interrupted_and_resumable(folder: Path) -> bool:
    status = json.loads((folder / "run.json").read_text())
    return status["status"] == "interrupted" and status["resumable"] is True


@pytest.mark.parametrize("case", list(STATE_CASES))
def test_a_malformed_resumable_state_is_one_line_naming_it_and_the_run_stays_resumable(
    hostile, case
):
    folder, result = hostile[case]
    line = _one_line(result)
    assert line.startswith(f"error: {folder / 'last.safetensors'}: cannot resume from this file: ")
    assert STATE_CASES[case][1] in line
    assert "learning rate" not in line and "training.lr" not in line
    assert _interrupted_and_resumable(folder)


def test_a_resume_whose_config_is_too_large_for_memory_is_refused_before_its_state_is_read(
    hostile,
):
    folder, result = hostile["width-40000"]
    line = _one_line(result)
    assert line.startswith(f"error: {folder / 'config.yaml'}: model.width, model.depth: ")
    assert "40000 → 40000" in line and "GiB to train" in line
    assert _interrupted_and_resumable(folder)


def test_a_checkpoint_too_large_to_load_in_memory_is_refused_before_it_is_read(hostile):
    path, result = hostile["big-checkpoint"]
    line = _one_line(result)
    assert line.startswith(f"error: {path}: checkpoint holds 400,120,002 numbers; loading it")


def test_a_report_over_many_figures_each_within_its_limit_stops_at_the_total(hostile):
    folder, result = hostile["many-figures"]
    line = _one_line(result)
    assert line.startswith(f"error: {folder}: its figures hold more than 256 MiB together")
    assert not (folder / "report.html").exists()

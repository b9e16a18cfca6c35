"""The checks a grid passes before its run folder is claimed (app/setup.py): memory, class
weights and the positive class of every stack, the data a resumed run trained on, the batch of
a data-parallel resume, and the devices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from nncli.app import setup
from nncli.errors import UsageError
from nncli.grid.spec import Grid, build_grid
from nncli.model import mlp
from nncli.train.parallel import Ranks

# Moons (2 features, 2 classes) through hidden widths 8, 8: (2*8 + 8) + (8*8 + 8) + (8*2 + 2).
PARAMETERS = 114


def grid(write_config, config: dict, *vary: str, n_seeds: int = 1) -> tuple[Grid, Path]:
    path = write_config(config)
    return build_grid(path, [], list(vary), n_seeds, require_vary=False), path


def one_process() -> Ranks:
    return Ranks(rank=0, world=1, local_rank=0, local_world=1)


def test_check_stacks_refuses_a_stack_too_big_for_memory_counting_all_its_models(
    make_config, write_config, monkeypatch
):
    g, path = grid(write_config, make_config(), "training.lr=0.1,0.2", n_seeds=2)
    assert g.stacks == [[0, 1, 2, 3]]  # four models of one shape: one stack
    prepared = setup.prepare(g, path, None)
    needed = 4 * PARAMETERS * mlp.TRAINING_BYTES_PER_PARAMETER
    monkeypatch.setattr(mlp, "memory_bytes", lambda: needed)
    setup.check_stacks(g, prepared)  # exactly fits
    monkeypatch.setattr(mlp, "memory_bytes", lambda: needed - 1)
    message = "model.width, model.depth: 4 network(s) of layer sizes 2 → 8 → 8 → 2 hold 456"
    with pytest.raises(UsageError, match=re.escape(message)):
        setup.check_stacks(g, prepared)


def test_check_stacks_checks_every_stack_not_only_the_first(make_config, write_config):
    # The class weights fit moons (classes 0 and 1) but the sine stack is a regression.
    config = make_config(training={"class_weight": {"0": 1.0, "1": 2.0}})
    g, path = grid(write_config, config, "data.source=moons,sine")
    assert len(g.stacks) == 2
    prepared = setup.prepare(g, path, None)
    with pytest.raises(UsageError, match=r"^training\.class_weight: applies to classification"):
        setup.check_stacks(g, prepared)


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("training", {"class_weight": {"cat": 2.0}}, "training.class_weight: 'cat' is not a class"),
        ("data", {"positive_class": "cat"}, "data.positive_class: 'cat' is not a class"),
    ],
)
def test_check_stacks_refuses_classes_the_data_does_not_have(
    make_config, write_config, section, value, message
):
    g, path = grid(write_config, make_config(**{section: value}))
    with pytest.raises(UsageError, match=f"^{re.escape(message)}"):
        setup.check_stacks(g, setup.prepare(g, path, None))


def test_prepare_loads_each_data_section_once_and_refuses_data_that_changed(
    make_config, write_config
):
    g, path = grid(write_config, make_config(), "training.lr=0.1,0.2")
    assert len(setup.prepare(g, path, None)) == 1  # one data section for both variants
    noisy, noisy_path = grid(write_config, make_config(), "data.noise=0.1,0.3")
    prepared = setup.prepare(noisy, noisy_path, None)
    assert len(prepared) == 2
    fingerprints = {key: data.fingerprint() for key, data in prepared.items()}
    assert setup.prepare(noisy, noisy_path, fingerprints).keys() == prepared.keys()

    changed = dict(fingerprints)
    changed[next(iter(changed))] = "0" * 64
    with pytest.raises(UsageError) as info:
        setup.prepare(noisy, noisy_path, changed)
    assert str(info.value) == f"{noisy_path}: the data no longer matches what this run trained on"


def test_prepare_refuses_a_csv_edited_since_and_names_the_config(write_config, tmp_path):
    data = tmp_path / "points.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(40)))
    g, path = grid(write_config, {"data": {"source": str(data), "target": "y"}})
    fingerprints = {key: d.fingerprint() for key, d in setup.prepare(g, path, None).items()}
    data.write_text(data.read_text().replace("3,3,1", "3,4,1"))
    with pytest.raises(UsageError, match="the data no longer matches what this run trained on"):
        setup.prepare(g, path, fingerprints)
    data.unlink()
    with pytest.raises(UsageError, match=f"^{re.escape(str(path))}: .*data file not found"):
        setup.prepare(g, path, None)


@pytest.mark.parametrize(
    ("scope", "kind", "before", "world", "refused"),
    [
        ("process", "train", 2, 1, True),  # per-process batches, resumed on fewer processes
        ("process", "train", 1, 2, True),
        ("process", "train", 2, 2, False),
        ("global", "train", 2, 1, False),  # the batch is the whole launch's: any number
        ("process", "sweep", 2, 1, False),  # a sweep splits its models, not their batches
    ],
)
def test_check_same_batch(make_config, write_config, scope, kind, before, world, refused):
    g, path = grid(write_config, make_config(training={"batch_scope": scope}))
    ranks = Ranks(rank=0, world=world, local_rank=0, local_world=world)
    info = {"kind": kind, "processes": before}
    if not refused:
        setup.check_same_batch(g, info, ranks, path)
        return
    with pytest.raises(UsageError) as raised:
        setup.check_same_batch(g, info, ranks, path)
    assert str(raised.value) == (
        f"{path}: its batch is training.batch_size per process (training.batch_scope: process)"
        f" and it trained on {before} process(es); resume it on {before}"
    )


def test_check_same_batch_reads_a_run_without_processes_as_one(make_config, write_config):
    g, path = grid(write_config, make_config(training={"batch_scope": "process"}))
    setup.check_same_batch(g, {"kind": "train"}, one_process(), path)
    with pytest.raises(UsageError, match="it trained on 1 process"):
        setup.check_same_batch(g, {"kind": "train"}, Ranks(0, 2, 0, 2), path)


def test_devices_are_resolved_once_each(make_config, write_config):
    g, _ = grid(write_config, make_config(), "training.lr=0.1,0.2", n_seeds=2)
    assert setup.devices(g) == "cpu"
    if torch.cuda.is_available():
        return
    both, _ = grid(write_config, make_config(), "training.device=cpu,auto")
    assert setup.devices(both) == "cpu"  # auto is the CPU here: named once


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
def test_devices_refuse_cuda_where_there_is_none(make_config, write_config):
    g, _ = grid(write_config, make_config(training={"device": "cuda"}))
    with pytest.raises(UsageError, match=r"^training\.device: cuda requested but no CUDA device"):
        setup.devices(g)

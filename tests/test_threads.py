"""The torch thread count: the rule by work per step, the cores it may use, where it is applied."""

from __future__ import annotations

import json

import pytest
import torch

from nncli.app.commands import run_train
from nncli.config.loading import validate_config
from nncli.config.schema import Config
from nncli.data.prepared import prepare_data
from nncli.grid.session import Session
from nncli.train import threads
from nncli.train.threads import (
    MULTIPLY_ADDS_PER_THREAD,
    choose_threads,
    multiply_adds,
    stack_threads,
)


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """Tests run on one torch thread (conftest); put it back after a test sets another."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def idle_machine(monkeypatch):
    """`n` cores this process may use, on a machine with nothing else running."""

    def cores(n: int) -> None:
        monkeypatch.setattr(threads, "available_cores", lambda: n)
        monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        threads.cores_to_use.cache_clear()

    yield cores
    threads.cores_to_use.cache_clear()  # the next test looks at the machine afresh


def test_multiply_adds_count_every_layer_of_every_stacked_model():
    # configs/moons.yaml: 2 -> 16 -> 16 -> 2, batch 32: 32 x (2*16 + 16*16 + 16*2)
    assert multiply_adds([2, 16, 16, 2], 32) == 32 * 320 == 10_240
    assert multiply_adds([2, 16, 16, 2], 32, n_models=30) == 30 * 10_240
    assert multiply_adds([5, 1], 7) == 35  # a single-layer perceptron


def test_a_small_model_gets_one_thread_whatever_the_cores():
    for cores in (1, 2, 16, 128):
        assert choose_threads("auto", 10_240, cores) == 1
        assert choose_threads("auto", MULTIPLY_ADDS_PER_THREAD - 1, cores) == 1


def test_a_large_step_gets_one_thread_per_share_of_work_up_to_the_cores():
    share = MULTIPLY_ADDS_PER_THREAD
    assert choose_threads("auto", 2 * share, 16) == 2
    assert choose_threads("auto", 5 * share + share // 2, 16) == 5
    assert choose_threads("auto", 10**12, 16) == 16  # capped at the cores
    assert choose_threads("auto", 10**12, 2) == 2
    assert choose_threads("auto", 10**12, 1) == 1


@pytest.mark.parametrize("work", [0, 10_240, 10**12])
def test_a_number_in_the_config_wins(work):
    assert choose_threads(3, work, 2) == 3  # even beyond the cores: the user asked for it
    assert choose_threads(1, work, 64) == 1


def test_the_cores_are_the_affinity_or_fewer_by_omp_num_threads(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.available_cores() == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.available_cores() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert threads.available_cores() == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not a count: ignored
    assert threads.available_cores() == 4


@pytest.mark.parametrize(
    ("cores", "machine_cores", "load", "idle"),
    [
        (2, 2, 0.1, 2),  # idle
        (2, 2, 1.0, 1),  # one other busy process
        (2, 2, 5.7, 1),  # this development machine on a busy afternoon: never below one
        (16, 16, 3.2, 13),
        (4, 64, 32.0, 2),  # a container's 4 cores of a half-busy 64-core host
    ],
)
def test_idle_cores_subtract_the_load_average(monkeypatch, cores, machine_cores, load, idle):
    monkeypatch.setattr(threads.os, "cpu_count", lambda: machine_cores)
    assert threads.idle_cores(cores, load) == idle


def config(width: int = 1024, **training) -> Config:
    data = {"source": "moons", "n_samples": 2000}
    return validate_config({"data": data, "model": {"depth": 4, "width": width},
                            "training": training})  # fmt: skip


def test_a_stacks_work_uses_the_clamped_batch_and_the_models_stacked(idle_machine):
    idle_machine(64)
    wide = config(batch_size=10**6)  # clamped to the 1400 training rows
    prepared = prepare_data(wide.data)
    work = multiply_adds([2, 1024, 1024, 1024, 1024, 2], 1400)
    assert stack_threads(wide, prepared, 1) == min(64, work // MULTIPLY_ADDS_PER_THREAD)
    assert stack_threads(config(width=4, batch_size=1), prepared, 1) == 1
    assert stack_threads(config(batch_size=10**6, threads=3), prepared, 1) == 3


def test_a_large_stack_takes_the_idle_cores_only(idle_machine, monkeypatch):
    idle_machine(2)
    wide = config(batch_size=10**6)
    prepared = prepare_data(wide.data)
    assert stack_threads(wide, prepared, 1) == 2
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.2, 1.0, 1.0))  # other work
    assert stack_threads(wide, prepared, 1) == 2  # counted once, before training loaded it
    threads.cores_to_use.cache_clear()
    assert stack_threads(wide, prepared, 1) == 1
    assert stack_threads(config(batch_size=10**6, threads=2), prepared, 1) == 2  # as asked


def test_training_sets_the_count_and_reports_it(tiny_moons, tmp_path, idle_machine, monkeypatch):
    import nncli.train.stack

    idle_machine(2)
    trained_with: list[int] = []  # torch's thread count while each stack trains
    real_fit = nncli.train.stack.fit

    def spy(*args, **kwargs):
        trained_with.append(torch.get_num_threads())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(nncli.train.stack, "fit", spy)
    before = torch.get_num_threads()
    shown: list[str] = []
    session = Session(on_setup=lambda setup: shown.append(setup.text))
    run_train(tiny_moons, [], out=tmp_path / "auto", session=session)
    assert trained_with == [1]  # a small model
    assert torch.get_num_threads() == before  # and the caller's count is back
    assert shown[0].splitlines()[-1].endswith("; on cpu, 1 thread")
    assert json.loads((tmp_path / "auto/run.json").read_text())["threads"] == 1
    shown.clear()
    run_train(tiny_moons, ["training.threads=2"], out=tmp_path / "two", session=session)
    assert trained_with == [1, 2]
    assert torch.get_num_threads() == before
    assert shown[0].splitlines()[-1].endswith("; on cpu, 2 threads")
    assert json.loads((tmp_path / "two/run.json").read_text())["threads"] == 2


def test_evaluate_chooses_by_its_own_forward_pass(tiny_moons, tmp_path, idle_machine):
    from nncli.app.saved import evaluate

    idle_machine(2)
    run_train(tiny_moons, ["training.threads=2"], out=tmp_path / "run")
    evaluate(tmp_path / "run", split="all")  # 140 rows x 96 multiply-adds: one thread
    assert torch.get_num_threads() == 1

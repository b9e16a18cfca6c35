"""Beyond one process: data-parallel training and split sweeps under torchrun, on the CPU (gloo
over loopback, two processes), against the same work done by one process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from nncli.cli import app
from nncli.grid.split import deal, split_parts
from nncli.train.parallel import DataParallel, Ranks

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def torchrun(*args, processes: int = 2) -> list[str]:
    """A standalone launch (its own free port) of `processes` copies of `python -m ...`."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", *map(str, args)]  # fmt: skip


def launch(*args, processes: int = 2, timeout: float = 120) -> subprocess.CompletedProcess:
    """`torchrun -m nncli ARGS`, finished."""
    command = torchrun("-m", "nncli", *args, processes=processes)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def start(at: str, *args, processes: int = 2) -> subprocess.Popen:
    """`torchrun tests/stop_at.py AT -- ARGS` (nncli ARGS, doing `at` at the step it names), in a
    session of its own, as a terminal runs it: Ctrl-C there signals every process of the
    session."""
    script = ROOT / "tests" / "stop_at.py"
    command = torchrun(script, *at.split(), "--", *args, processes=processes)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip


def ours(stderr: str) -> list[str]:
    """nncli's lines on stderr, without torchrun's own: its log lines, and the report (with a
    traceback) it adds when a process of the launch fails."""
    theirs = ("W1", "E1", "I1", " ", "*", "=", "-", "[", "Traceback", "torch.distributed.",
              "Failures:", "Root Cause", "nncli FAILED")  # fmt: skip
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(theirs)]


def close(a: dict | list | float, b: dict | list | float, rel: float = 1e-5) -> bool:
    """Equal structure, and numbers equal to float32 rounding."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=rel, abs=1e-7)
    return a == b


@pytest.fixture(scope="module")
def moons(make_config, tmp_path_factory) -> Path:
    """A run of a second or two under torchrun (gloo's all-reduce costs about a millisecond a
    step here), 66 steps an epoch: long enough to interrupt mid-epoch (the tests stop it in
    epoch 4) and leave epochs to resume."""
    path = tmp_path_factory.mktemp("moons") / "moons.yaml"
    config = make_config(data={"n_samples": 1500}, model={"width": 16},
                         training={"lr": 0.05, "epochs": 6})  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def alone(moons, tmp_path_factory) -> dict:
    """The moons run's metrics, trained by one process."""
    out = tmp_path_factory.mktemp("alone") / "run"
    result = runner.invoke(app, ["train", str(moons), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["metrics"]


# --- the pieces, without processes -------------------------------------------------------------


@pytest.mark.parametrize("world", [2, 3, 5])
def test_shards_cover_each_row_of_each_batch_once_in_order(world):
    group = DataParallel(Ranks(rank=0, world=world, local_rank=0, local_world=world))
    n, batch = 203, 32  # a short last batch, and shards of unequal sizes
    for first, last in [(0, 7), (2, 7), (3, 5), (6, 7)]:
        owned = group.batch_rows(n, batch, first, last)
        rows = torch.cat(owned)
        span = min(last * batch, n) - first * batch
        assert sorted(rows.tolist()) == list(range(span))
        for rank, mine in enumerate(owned):  # each rank's rows, step by step, as it trains them
            expected = []
            for step in range(first, last):
                size = min(batch, n - step * batch)
                lo, hi = group.bounds(size, rank)
                expected += range(
                    step * batch + lo - first * batch, step * batch + hi - first * batch
                )
            assert mine.tolist() == expected
    assert torch.cat(group.split_rows(10)).tolist() == list(range(10))


def test_stacks_are_cut_into_parts_of_two_or_more_and_dealt_by_cost():
    class Grid:  # what split_parts reads of a grid
        stacks = ([*range(30)], [30, 31, 32], [33])

    assert split_parts(Grid, 2) == [(0, 0, 15), (0, 15, 30), (1, 0, 3), (2, 0, 1)]
    assert split_parts(Grid, 4) == [(0, 0, 7), (0, 7, 15), (0, 15, 22), (0, 22, 30),
                                    (1, 0, 3), (2, 0, 1)]  # fmt: skip
    assert split_parts(Grid, 1) == [(0, 0, 30), (1, 0, 3), (2, 0, 1)]
    assert deal([15, 15, 3, 1], 2) == [[0, 2], [1, 3]]
    assert deal([1, 1, 1], 1) == [[0, 1, 2]]
    assert deal([5], 3) == [[0], [], []]


# --- data-parallel training --------------------------------------------------------------------


@pytest.mark.slow
def test_data_parallel_fit_matches_one_process(tmp_path):
    """Every case of tests/distributed/fit_cases.py: two ranks end with one process's weights,
    histories and gradient norms, to float32 rounding."""
    sys.path.insert(0, str(ROOT / "tests" / "distributed"))
    try:
        import fit_cases
    finally:
        sys.path.pop(0)
    saved = tmp_path / "cases.pt"
    script = ROOT / "tests" / "distributed" / "fit_cases.py"
    result = subprocess.run(torchrun(script, saved), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    launched = torch.load(saved, weights_only=True)
    for name in fit_cases.CASES:
        single = fit_cases.train(name, None)
        two = launched[name]
        for p, q in zip(single["params"], two["params"], strict=True):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)
        assert close(single["histories"], two["histories"], rel=1e-4), name
        assert close(single["grad_norms"], two["grad_norms"], rel=1e-4), name


@pytest.mark.slow
def test_train_under_torchrun_matches_one_process_and_only_rank_0_writes(moons, alone, tmp_path):
    out = tmp_path / "two"
    result = launch("train", moons, "--out", out, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)  # one rank printed, once
    assert close(summary["metrics"], alone)
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "finished" and status["processes"] == 2
    assert "2 processes (torchrun)" in status["setup"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two"]
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 6  # a header and each epoch once, not once per rank


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_at_one_step_and_a_single_process_finishes_it(
    moons, alone, tmp_path
):
    out = tmp_path / "cut"
    # Ctrl-C in a terminal, to torchrun and its processes, as rank 0 asks before epoch 4's step
    # 10 (66 steps an epoch): the ranks agree during that step, and stop before the next.
    process = start(f"{3 * 66 + 11} ctrl-c", "train", moons, "--out", out)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    lines = ours(stderr)
    assert sum("every process stops at the next training step" in line for line in lines) == 1
    stopped = [line for line in lines if line.startswith("interrupted at epoch")]
    assert len(stopped) == 1, stderr
    assert stopped[0].startswith("interrupted at epoch 4, step 11;"), stderr
    assert f"resume with: torchrun --nproc-per-node 2 -m nncli train --resume {out}" in stderr
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted" and status["resumable"] is True

    resumed = runner.invoke(app, ["train", "--resume", str(out), "--json"])  # one process now
    assert resumed.exit_code == 0, resumed.output
    assert close(json.loads(resumed.stdout)["metrics"], alone)


@pytest.mark.slow
def test_a_killed_rank_stops_the_launch_with_one_message_and_two_ranks_resume_it(
    moons, alone, tmp_path
):
    out = tmp_path / "killed"
    # Rank 1 killed (-9, as the out-of-memory killer would) before epoch 4's step 10.
    process = start(f"--rank 1 {3 * 66 + 11} KILL", "train", moons, "--out", out)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    errors = [line for line in ours(stderr) if line.startswith("error")]
    assert errors == [
        f"error: another process of the launch stopped (its connection closed); resume from what"
        f" it saved with: torchrun --nproc-per-node 2 -m nncli train --resume {out}"
    ], stderr
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted" and status["resumable"] is True

    resumed = launch("train", "--resume", out, "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert close(json.loads(resumed.stdout)["metrics"], alone)


@pytest.mark.slow
def test_a_problem_every_rank_has_is_said_once_and_one_only_the_leader_has_by_it(
    write_config, tmp_path
):
    typo = write_config({"data": {"source": "moons"}, "training": {"lrr": 0.1}}, "typo.yaml")
    result = launch("train", typo, "--out", tmp_path / "a")
    assert result.returncode != 0
    (line,) = [line for line in ours(result.stderr) if line.startswith("error")]
    assert line.startswith(f"error: {typo}: training.lrr: unknown key 'lrr' (did you mean 'lr'?)")
    assert not (tmp_path / "a").exists()

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    good = write_config({"data": {"source": "moons", "n_samples": 100}}, "good.yaml")
    result = launch("train", good, "--out", taken)
    assert [line for line in ours(result.stderr) if line.startswith("error")] == [
        f"error: {taken}: --out must be a new or empty folder; it would overwrite"
    ], result.stderr
    assert sorted(p.name for p in taken.iterdir()) == ["keep.txt"]


@pytest.mark.slow
def test_a_command_that_does_not_train_is_refused_under_torchrun_once(tmp_path):
    result = launch("runs", tmp_path)
    assert result.returncode != 0
    assert [line for line in ours(result.stderr) if line.startswith("error")] == [
        "error: nncli runs is not for torchrun: run it in one process (only train, sweep,"
        " compare-activations run across processes)"
    ], result.stderr


# --- sweeps split across ranks -----------------------------------------------------------------


@pytest.fixture(scope="module")
def grid(make_config, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("grid") / "grid.yaml"
    config = make_config(seed=4, data={"n_samples": 300, "noise": 0.25}, training={"epochs": 6})
    path.write_text(yaml.safe_dump(config))
    return path


def without_times(summary: dict) -> dict:
    return {
        **{k: v for k, v in summary.items() if k not in ("out_dir", "stacks")},
        "stacks": [{k: v for k, v in s.items() if k != "seconds"} for s in summary["stacks"]],
    }


SWEEP_OF_SIX_LRS = ["sweep", "--vary", "model.depth=1,2", "--vary", "training.lr=0.1,0.05,0.02",
                    "--seeds", "2"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "processes"),
    [
        (["compare-activations", "--activations", "tanh,relu,sigmoid", "--seeds", "2"], 2),
        # Stacks of 6 models with 3 learning rates, cut into parts of 2 that share theirs: each
        # part must still update as its stack does (sgd.UpdateRule).
        (SWEEP_OF_SIX_LRS, 3),
    ],
    ids=["one stack cut in two", "two stacks cut in three"],
)
def test_a_sweep_split_across_ranks_writes_the_summary_one_process_writes(
    grid, tmp_path, command, processes
):
    single = runner.invoke(app, [*command, str(grid), "--out", str(tmp_path / "one"), "--json"])
    assert single.exit_code == 0, single.output
    result = launch(*command, grid, "--out", tmp_path / "two", "--json", processes=processes)
    assert result.returncode == 0, result.stderr[-3000:]
    assert without_times(json.loads(result.stdout)) == without_times(json.loads(single.stdout))
    written = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert without_times(written) == without_times(json.loads(single.stdout))
    assert not (tmp_path / "two" / "partial").exists()
    assert json.loads((tmp_path / "two" / "run.json").read_text())["processes"] == processes


@pytest.mark.slow
def test_an_interrupted_split_sweep_resumes_alone_to_the_same_summary(grid, tmp_path):
    # 10 epochs of 12 steps: rank 0's 50th step is mid-part. Rank 1 trains its part to the end
    # whatever the count (it finished with 800 or 3000 epochs too), so more only cost time.
    command = ["sweep", str(grid), "--vary", "training.lr=0.1,0.05,0.02", "--seeds", "2",
               "--set", "training.epochs=10"]  # fmt: skip
    single = runner.invoke(app, [*command, "--out", str(tmp_path / "one"), "--json"])
    assert single.exit_code == 0, single.output
    out = tmp_path / "two"
    # Ctrl-C into the training of the parts: before rank 0's 50th step.
    process = start("50 ctrl-c", *command, "--out", out)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    stopped = [line for line in ours(stderr) if line.startswith("interrupted")]
    assert len(stopped) == 1 and "saved part-way" in stopped[0], stderr
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"

    broken = tmp_path / "broken"  # a copy with a part's saved state damaged: refused, kept
    shutil.copytree(out, broken)
    (state,) = list((broken / "partial").glob("part-*.state.safetensors"))[:1]
    state.write_bytes(state.read_bytes()[:100])
    refused = runner.invoke(app, ["sweep", "--resume", str(broken)])
    assert refused.exit_code == 2 and f"{state}: cannot resume from this file" in refused.stderr
    assert json.loads((broken / "run.json").read_text())["status"] == "interrupted"

    swapped = tmp_path / "swapped"  # the two parts' files exchanged: each other's models
    shutil.copytree(out, swapped)
    partial = swapped / "partial"
    (state,) = partial.glob("part-*.state.safetensors")
    (done,) = set(partial.glob("part-*.safetensors")) - {state}
    mine, other = (int(p.name.split(".")[0].removeprefix("part-")) for p in (state, done))
    state.rename(partial / f"part-{other}.state.safetensors")
    history = partial / f"part-{mine}.state.history.jsonl"  # the state's rows go with it
    history.rename(partial / f"part-{other}.state.history.jsonl")
    done.rename(partial / f"part-{mine}.safetensors")
    refused = runner.invoke(app, ["sweep", "--resume", str(swapped)])
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.count("\n") == 1 and "holds other models" in refused.stderr
    assert json.loads((swapped / "run.json").read_text())["status"] == "interrupted"

    resumed = runner.invoke(app, ["sweep", "--resume", str(out), "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert (
        without_times(json.loads(resumed.stdout))["results"]
        == without_times(json.loads(single.stdout))["results"]
    )


# --- the batch ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_batch_per_process_is_the_batch_of_them_all_trained_alone(moons, tmp_path):
    short = ["--set", "training.epochs=4"]
    alone = runner.invoke(app, ["train", str(moons), *short, "--set", "training.batch_size=32",
                                "--out", str(tmp_path / "one"), "--json"])  # fmt: skip
    assert alone.exit_code == 0, alone.output
    per_process = ["--set", "training.batch_scope=process", "--set", "training.batch_size=16"]
    result = launch("train", moons, *short, *per_process, "--out", tmp_path / "two", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert close(json.loads(result.stdout)["metrics"], json.loads(alone.stdout)["metrics"])
    setup = json.loads((tmp_path / "two" / "run.json").read_text())["setup"]
    assert "batch 32 (16 per process; 33 steps per epoch)" in setup


@pytest.mark.slow
def test_a_run_with_a_batch_per_process_resumes_only_on_as_many(moons, tmp_path):
    from nncli.app.commands import run_train
    from nncli.errors import Interrupted
    from nncli.grid.session import Session

    out = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_train(
            moons,
            ["training.batch_scope=process"],
            out=out,
            session=Session(should_stop=StopAfter(200)),
        )
    result = launch("train", "--resume", out)
    errors = [line for line in ours(result.stderr) if line.startswith("error")]
    assert errors == [
        f"error: {out}: its batch is training.batch_size per process (training.batch_scope:"
        " process) and it trained on 1 process(es); resume it on 1"
    ], result.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"


class StopAfter:
    """A stop request that comes after `steps` training steps."""

    exit_code = 130

    def __init__(self, steps: int):
        self.left = steps

    def __call__(self) -> bool:
        self.left -= 1
        return self.left < 0


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices (NCCL)")
def test_data_parallel_on_two_gpus_matches_one_process_on_the_cpu(moons, alone, tmp_path):
    out = tmp_path / "gpus"
    result = launch("train", moons, "--set", "training.device=cuda", "--out", out, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert close(json.loads(result.stdout)["metrics"], alone, rel=1e-3)
    assert json.loads((out / "run.json").read_text())["device"].startswith("cuda:0")


@pytest.mark.slow
def test_a_killed_leader_is_said_and_recorded_by_a_survivor_and_resumes(moons, alone, tmp_path):
    out = tmp_path / "leaderless"
    # Rank 0, which owns the folder and its lock, killed (-9) before epoch 4's step 10: rank 1
    # finds the lock free and run.json still `running`, so it records the loss and says so.
    process = start(f"--rank 0 {3 * 66 + 11} KILL", "train", moons, "--out", out)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    errors = [line for line in ours(stderr) if line.startswith("error")]
    assert errors == [
        "error: rank 1: the launch's leader (rank 0) was lost, so this process recorded the run"
        " as interrupted; resume from what it saved with: torchrun --nproc-per-node 2 -m nncli"
        f" train --resume {out}"
    ], stderr
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted" and status["resumable"] is True, status
    assert status["error"] == "the launch's leader (rank 0) was lost", status

    resumed = launch("train", "--resume", out, "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert close(json.loads(resumed.stdout)["metrics"], alone)

"""The benchmark harness (benchmarks/run.py) keeps working: its explicit loop is checked against
autograd, and its smallest scenario runs at tiny sizes. No timing is asserted."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def harness(monkeypatch) -> tuple[ModuleType, ModuleType]:
    """benchmarks/run.py and benchmarks/sides.py, imported as the script imports them."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("run"), importlib.import_module("sides")


def test_the_explicit_loop_takes_the_steps_autograd_and_torch_optim_take(harness):
    _, sides = harness
    spec = sides.Spec((5, 7, 6, 3), batch=8, epochs=2, lr=0.1, seed=3)
    data = sides.classification_data(42, 5, 3, seed=1, device="cpu")  # a last batch of 2
    net = sides.relu_mlp(spec)
    sides.bare_train(net, data, spec)
    weights, biases = sides.parameters(spec)
    sides.explicit_train(weights, biases, data, spec)
    assert not torch.equal(weights[0], sides.parameters(spec)[0][0])  # it trained
    for linear, weight, bias in zip(net[::2], weights, biases, strict=True):
        torch.testing.assert_close(weight, linear.weight.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(bias, linear.bias.detach(), rtol=1e-5, atol=1e-6)


def test_the_small_scenario_at_tiny_sizes_measures_every_cpu_side(harness):
    run, sides = harness
    runnable = {name: side for name, side in sides.sides("cpu").items() if name != "Lightning"}
    tiny = run.Sized("tiny", n=96, features=4, hidden=(8, 8), batch=16, epochs=1, repeats=2)
    section = run.sized_scenario(tiny, "cpu", runnable, run.CPU_TARGETS["small"])
    for name in runnable:
        assert section.measured.median(name) > 0
        assert section.measured.ratio(name, "nncli") > 0
    assert [row[0] for row in section.rows] == [*runnable, run.MATMUL]
    assert section.measured.ratio(run.MATMUL, "nncli") > 0
    assert all(met is not None for met in section.checks())
    assert "✓" in section.render(markdown=False) or "✗" in section.render(markdown=False)


def test_the_docs_section_between_the_markers_is_replaced_and_the_rest_kept(
    harness, tmp_path, monkeypatch
):
    run, _ = harness
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Figures\n\nby hand\n\n{run.BEGIN}\nold figures\n{run.END}\n\nafter\n")
    monkeypatch.setattr(run, "DOCS", docs)
    section = run.Section(
        "a scenario",
        ["a note"],
        ["side", "per step"],
        [["nncli", "1 µs"]],
        run.Measured([{"nncli": 1e-6}]),
        targets=[],
    )
    run.write_docs(["the machine", "the versions"], [section], "python benchmarks/run.py")
    text = docs.read_text()
    assert text.startswith("# Figures\n\nby hand\n\n") and text.endswith(f"{run.END}\n\nafter\n")
    assert "old figures" not in text
    assert "| nncli | 1 µs |" in text and "#### a scenario" in text


def test_only_replaces_its_own_scenario_and_adds_a_new_one(harness, tmp_path, monkeypatch):
    run, _ = harness
    docs = tmp_path / "benchmarks.md"
    generated = "the machine.\n\n#### small (cpu): old small\n\n#### stacked: old stacked"
    docs.write_text(f"intro\n\n{run.BEGIN}\n{generated}\n{run.END}\n\nafter\n")
    monkeypatch.setattr(run, "DOCS", docs)

    def section(title: str) -> object:
        return run.Section(title, [], ["side"], [["nncli"]], run.Measured([{}]), targets=[])

    run.write_docs_sections([section("stacked: new stacked"), section("commands: new")])
    text = docs.read_text()
    assert "old small" in text and "old stacked" not in text and "#### stacked: new stacked" in text
    assert text.index("#### stacked: new") < text.index("#### commands: new") < text.index(run.END)
    assert text.startswith("intro\n\n") and text.endswith(f"{run.END}\n\nafter\n")


def test_the_per_epoch_and_sweep_scenarios_run_both_sides_as_processes(harness, tmp_path):
    """At tiny sizes: nncli and scikit-learn's script each run at both epoch counts, and the
    18-model sweep both ways; every figure is a number and the targets can be judged."""
    from dataclasses import replace

    run, _ = harness
    plan = replace(run.QUICK, epoch_rows=300, epoch_counts=(1, 2), sweep_rows=300, sweep_epochs=1)
    for section in (run.per_epoch_scenario(plan, tmp_path), run.sweep_scenario(plan, tmp_path)):
        (round_,) = section.measured.rounds
        assert all(seconds > 0 for label, seconds in round_.items() if "per epoch" not in label)
        assert all(met is not None for met in section.checks()), section.render(markdown=False)

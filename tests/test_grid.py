"""Grids: --vary parsed like --set, every problem at once, stacks where shapes allow."""

from __future__ import annotations

import re

import pytest

from nncli.errors import ConfigError, UsageError
from nncli.grid.spec import build_grid, split_values


def test_values_split_on_commas_outside_brackets():
    assert split_values("0.1,1e-2, 3") == ["0.1", "1e-2", "3"]
    assert split_values("[8,8],[16, 4]") == ["[8,8]", "[16, 4]"]
    assert split_values("{patience: 2, min_delta: 0.1},null") == [
        "{patience: 2, min_delta: 0.1}",
        "null",
    ]


def test_the_grid_is_the_cartesian_product_grouped_into_stacks(grid_config):
    grid = build_grid(
        grid_config,
        [],
        ["training.lr=0.1,0.01", "model.activation=relu,tanh", "model.width=4,8"],
        2,
    )
    assert grid.varied == ["training.lr", "model.activation", "model.width"]
    assert len(grid.values) == 8 and len(grid.models) == 16
    assert grid.values[0] == {"training.lr": 0.1, "model.activation": "relu", "model.width": 4}
    assert [m.seed for m in grid.models[:4]] == [4, 5, 4, 5]
    # lr, activation and seed stack; the width splits the grid in two.
    assert sorted(len(s) for s in grid.stacks) == [8, 8]
    for stack in grid.stacks:
        widths = {grid.models[i].config.model.width for i in stack}
        assert len(widths) == 1
        activations = [grid.models[i].config.model.activation for i in stack]
        assert activations == sorted(activations, key=activations.index)  # contiguous runs
    assert grid.label(grid.models[1]) == "lr=0.1_relu_width=4-seed5"
    sequential = build_grid(grid_config, [], ["training.lr=0.1,0.01"], 2, sequential=True)
    assert sequential.stacks == [[0], [1], [2], [3]]


def test_every_problem_of_the_file_set_vary_and_seeds_comes_back_at_once(grid_config):
    with pytest.raises(ConfigError) as info:
        build_grid(
            grid_config,
            ["training.momentum=2"],
            ["training.lr=0.1,-1", "model.activation=relu,rellu", "training.lrr=1"],
            0,
        )
    problems = "\n".join(info.value.problems)
    assert "--seeds: must be between 1 and 999, got 0" in problems
    assert "--set training.momentum: input should be less than 1, got 2" in problems
    assert "--vary training.lr: input should be greater than 0, got -1" in problems
    assert "--vary model.activation: unknown activation 'rellu' (did you mean 'relu'?)" in problems
    assert "--vary training.lrr: unknown key 'lrr' (did you mean 'lr'?)" in problems
    assert len(info.value.problems) == len(set(info.value.problems))  # each reported once


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        (["training.momentum=0.9,0.9"], "--vary training.momentum: 0.9 is listed twice"),
        (["training.lr=0.1,1e-1"], "--vary training.lr: 0.1 and 1e-1 are the same value"),
        (["training.lr="], "--vary training.lr: empty value"),
        (["training.lr=0.1,"], "--vary training.lr: empty value"),
        (["training.lr"], "expected KEY=V1,V2"),
        (["training.lr=0.1", "training.lr=0.2"], "given twice"),
        (["name=a,b"], "two variants train the same model"),
        (["model.width=8,[8,8]"], "two variants train the same model"),  # two spellings
        (["model.width=4,8", "model.depth=0"], "two variants train the same model"),
        ([], "--vary: give at least one"),
    ],
)
def test_a_knob_that_changes_nothing_or_an_empty_list_is_a_usage_error(grid_config, vary, message):
    with pytest.raises(UsageError) as info:
        build_grid(grid_config, [], vary, 1)
    assert message in str(info.value)


def test_a_problem_only_a_combination_makes_names_the_combination(grid_config):
    with pytest.raises(ConfigError) as info:
        build_grid(grid_config, [], ["training.momentum=0,0.9", "training.nesterov=false,true"], 1)
    (problem,) = info.value.problems
    assert "nesterov needs momentum > 0" in problem
    assert problem.endswith("(with --vary training.momentum=0, training.nesterov=true)")


def test_non_finite_values_are_refused(grid_config):
    with pytest.raises(ConfigError) as info:
        build_grid(
            grid_config, [], ["training.early_stopping.min_delta=0,.inf", "data.noise=.inf"], 1
        )
    problems = "\n".join(info.value.problems)
    assert "--vary training.early_stopping.min_delta: input should be a finite number" in problems
    assert "--vary data.noise: input should be a finite number" in problems


def test_labels_are_unique_file_names_even_where_values_look_alike(grid_config, tmp_path):
    for name in ("x y.csv", "x_y.csv", "a" * 180 + ".csv", "a" * 180 + "b.csv"):
        (tmp_path / name).write_text("a,label\n1,0\n2,1\n3,0\n4,1\n")
    sources = ",".join(str(tmp_path / n) for n in sorted(p.name for p in tmp_path.glob("*.csv")))
    grid = build_grid(grid_config, ["data.target=label", "data.n_samples=null", "data.noise=null"],
                      [f"data.source={sources}"], 2)  # fmt: skip
    assert len(set(grid.labels)) == len(grid.labels) == 8
    assert all(len(label) < 200 and "/" not in label for label in grid.labels)
    assert grid.labels[0].startswith("source=") and grid.labels[0].endswith("-seed4")


def test_list_and_mapping_values(grid_config):
    grid = build_grid(
        grid_config,
        [],
        ["model.width=[4,4],[8,8]", "training.early_stopping={patience: 2},null"],
        1,
    )
    assert [v["model.width"] for v in grid.values] == [[4, 4], [4, 4], [8, 8], [8, 8]]
    assert grid.values[0]["training.early_stopping"]["patience"] == 2
    # Names a shell takes unquoted: the brackets, braces and quotes of the values dropped.
    assert grid.labels[0].startswith("width=4,4_early_stopping=patience=2,")
    assert all(re.fullmatch(r"[A-Za-z0-9._,=-]+", label) for label in grid.labels)


def test_relative_data_paths_in_vary_are_kept_absolute(grid_config, tmp_path, monkeypatch):
    for name in ("pts.csv", "more.csv"):
        (tmp_path / name).write_text("a,label\n1,0\n2,1\n3,0\n4,1\n")
    monkeypatch.chdir(tmp_path)
    grid = build_grid(grid_config, ["data.target=label", "data.n_samples=null", "data.noise=null"],
                      ["data.source=pts.csv,more.csv"], 1)  # fmt: skip
    assert grid.spec.vary == [f"data.source={tmp_path / 'pts.csv'},{tmp_path / 'more.csv'}"]

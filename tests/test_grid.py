"""Grids: --vary parsed like --set, every problem at once, stacks where shapes allow."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.config.keys import split_values
from nncli.config.schema import ACTIVATION_NAMES
from nncli.errors import ConfigError, UsageError
from nncli.grid.spec import build_grid, grid_from_spec


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


def test_a_grid_over_the_bound_is_refused_from_its_value_counts_at_once(grid_config, limited_cli):
    """Four 40-value keys were 2.56 million variants validated one by one (over a minute and
    growing memory); 1000 values x 999 seeds never started. Each is refused from its counts, in
    one line, before any variant is made: the child's timeout turns a regression into a failure."""
    forty = ",".join(str(n) for n in range(1, 41))
    thousand = ",".join(f"{n / 1e5:g}" for n in range(1, 1001))
    sweep = ["sweep", grid_config]
    cases = {
        "40^4": ([*sweep, *(a for key in ("training.epochs", "training.batch_size", "model.width",
                  "data.n_samples") for a in ("--vary", f"{key}={forty}"))], grid_config.parent),
        "1000 x 999 seeds": ([*sweep, "--vary", f"training.lr={thousand}", "--seeds", "999"],
                             grid_config.parent),
        "huge --seeds": ([*sweep, "--vary", "training.lr=0.1", "--seeds", "10" * 10],
                         grid_config.parent),
        "compare": (["compare-activations", grid_config, "--seeds", "5", "--max-models", "10"],
                    grid_config.parent),
    }  # fmt: skip
    results = limited_cli(cases, timeout=90)
    for name, result in results.items():
        assert result.returncode == 2, (name, result.stderr)
        assert len(result.stderr.splitlines()) == 1, (name, result.stderr)
    assert results["40^4"].stderr == (
        "error: --vary: the grid is 40 x 40 x 40 x 40 value(s) x 1 seed(s) = 2,560,000 models,"
        " more than --max-models 10,000; give fewer values or seeds, or raise --max-models\n"
    )
    assert "1,000 value(s) x 999 seed(s) = 999,000 models" in results["1000 x 999 seeds"].stderr
    assert "--seeds: must be between 1 and 999" in results["huge --seeds"].stderr
    n = len(ACTIVATION_NAMES)  # compare-activations' grid goes through the same bound
    assert f"--activations: the grid is {n} value(s) x 5 seed(s) = {5 * n} models, more than" \
        " --max-models 10;" in results["compare"].stderr  # fmt: skip


def test_max_models_raises_the_bound_and_a_resume_keeps_it(grid_config):
    vary = ["training.lr=0.1,0.2,0.3", "training.momentum=0,0.5"]
    with pytest.raises(ConfigError) as info:
        build_grid(grid_config, [], vary, 3, max_models=17)
    assert info.value.problems == [
        "--vary: the grid is 3 x 2 value(s) x 3 seed(s) = 18 models, more than --max-models 17;"
        " give fewer values or seeds, or raise --max-models"
    ]
    grid = build_grid(grid_config, [], vary, 3, max_models=18)
    assert len(grid.models) == 18 and grid.spec.max_models == 18
    assert len(grid_from_spec(grid.spec).models) == 18  # a resume rebuilds under its own bound


def test_max_models_on_the_command_line(grid_config):
    """Past the bound the next check speaks (a bad value), so nothing trains."""
    args = ["sweep", str(grid_config), "--vary", "training.lr=0.1,0.2,-1", "--seeds", "2"]
    refused = CliRunner().invoke(app, [*args, "--max-models", "5"])
    assert refused.exit_code == 2 and "= 6 models, more than --max-models 5;" in refused.stderr
    raised = CliRunner().invoke(app, [*args, "--max-models", "6"])
    assert raised.exit_code == 2
    assert raised.stderr.strip().endswith(
        "--vary training.lr: input should be greater than 0, got -1"
    )


def test_each_value_is_parsed_once_not_once_per_variant(grid_config, monkeypatch):
    from nncli.config import loading

    parsed, parse = [], loading.parse_yaml

    def counted(text: str, where: str):
        parsed.append(text)
        return parse(text, where)

    monkeypatch.setattr(loading, "parse_yaml", counted)
    keys = ["training.lr=0.1,0.2,0.3,0.4", "training.momentum=0,0.5,0.9,0.95", "data.seed=1,2,3,4"]
    grid = build_grid(grid_config, ["training.epochs=3"], keys, 2)
    assert len(grid.values) == 64 and len(grid.models) == 128
    values = [v for item in keys for v in item.partition("=")[2].split(",")]
    assert sorted(parsed) == sorted(["3", *values])  # 13 parses, not 64 x 4


def test_a_vary_value_yaml_refuses_is_reported_once_as_vary(grid_config):
    with pytest.raises(ConfigError) as info:
        build_grid(grid_config, [], ["training.lr={a: 1, a: 2}", "training.momentum=0,0.5"], 1)
    assert info.value.problems == ["--vary training.lr:1:8: key 'a' appears twice"]

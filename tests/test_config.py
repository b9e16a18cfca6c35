"""The config schema: YAML in, a validated Config out, and every problem reported at once."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from nncli.config.choosing import DEFAULT_PATIENCE
from nncli.config.loading import apply_overrides, load_config, read_yaml_mapping, validate_config
from nncli.config.schema import dump_config
from nncli.errors import ConfigError, UsageError
from nncli.model.activations import ACTIVATIONS

MINIMAL = {"data": {"source": "xor"}}


def with_section(section: str, values: dict) -> dict:
    """The minimal config plus `values` merged into one section."""
    raw = {"data": {"source": "xor"}}
    raw.setdefault(section, {}).update(values)
    return raw


def at(path: Path) -> str:
    """A regex matching `path` literally, for the start of a message."""
    return re.escape(str(path))


def problems_of(raw: dict, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(raw, source="cfg.yaml", **kwargs)
    return info.value.problems


def only_problem(raw: dict) -> str:
    problems = problems_of(raw)
    assert len(problems) == 1, problems
    return problems[0]


# --- the schema --------------------------------------------------------------------------------


def test_minimal_config_takes_the_schema_defaults():
    config = validate_config(MINIMAL)
    assert config.data.source == "xor"
    assert config.model.depth == 1
    assert config.model.widths == [16]
    # On by default where there is a validation split (the default split has one).
    assert config.training.early_stopping.patience == DEFAULT_PATIENCE
    assert config.training.headline_metric is None
    assert config.data.split.train + config.data.split.val + config.data.split.test == 1.0


def test_config_error_is_a_usage_error_with_exit_code_2():
    with pytest.raises(UsageError) as info:
        validate_config({})
    assert isinstance(info.value, ConfigError)
    assert info.value.exit_code == 2
    assert info.value.problems == ["config: data: required but missing"]


def test_unknown_key_suggests_the_closest_key():
    problem = only_problem({"data": {"source": "xor", "sorce": "moons"}})
    assert problem.startswith("cfg.yaml: data.sorce: unknown key 'sorce'")
    assert "did you mean 'source'" in problem
    assert "valid: " in problem and "target" in problem


@pytest.mark.parametrize(
    ("key", "hint"),
    [("lrate", "lr"), ("lr_rate", "lr"), ("epoch", "epochs"), ("batch", "batch_size"),
     ("banana", None), ("x", None), ("learning", None)],
)  # fmt: skip
def test_unknown_key_suggests_the_key_it_abbreviates_and_nothing_for_unrelated_words(key, hint):
    problem = only_problem(with_section("training", {key: 1}))
    assert problem.startswith(f"cfg.yaml: training.{key}: unknown key '{key}'")
    if hint is None:
        assert "did you mean" not in problem
    else:
        assert f"(did you mean '{hint}'?)" in problem


def test_unknown_top_level_section_suggests_the_closest_section():
    problem = only_problem({"data": {"source": "xor"}, "trainig": {}})
    assert problem.startswith("cfg.yaml: trainig: unknown key 'trainig'")
    assert "did you mean 'training'" in problem


def test_misspelt_required_key_reports_both_the_typo_and_the_missing_key():
    problems = problems_of({"data": {"sorce": "xor"}})
    assert "cfg.yaml: data.source: required but missing" in problems
    assert any("did you mean 'source'" in p for p in problems)


def test_nested_unknown_key_names_its_full_dotted_path():
    problem = only_problem(with_section("training", {"early_stoping": {"patience": 3}}))
    assert problem.startswith("cfg.yaml: training.early_stoping: unknown key 'early_stoping'")
    assert "did you mean 'early_stopping'" in problem


def test_unknown_key_two_levels_down_lists_that_sections_fields():
    problem = only_problem(with_section("training", {"early_stopping": {"patiense": 3}}))
    assert problem.startswith("cfg.yaml: training.early_stopping.patiense: unknown key")
    assert "did you mean 'patience'" in problem
    assert "valid: min_delta, patience" in problem


def test_early_stopping_monitor_is_an_unknown_key_since_nothing_read_it():
    problem = only_problem(with_section("training", {"early_stopping": {"monitor": "val_loss"}}))
    assert problem.startswith("cfg.yaml: training.early_stopping.monitor: unknown key 'monitor'")


@pytest.mark.parametrize(
    ("section", "values", "key", "shown"),
    [
        ("training", {"batch_size": "x"}, "training.batch_size", "'x'"),
        ("training", {"epochs": 3.0}, "training.epochs", "3.0"),
        ("training", {"batch_size": True}, "training.batch_size", "True"),
        ("model", {"depth": False}, "model.depth", "False"),
        ("training", {"nesterov": "yes"}, "training.nesterov", "'yes'"),
        ("training", {"lr": "fast"}, "training.lr", "'fast'"),
    ],
)
def test_wrong_type_names_the_key_and_the_value(section, values, key, shown):
    problem = only_problem(with_section(section, values))
    assert problem.startswith(f"cfg.yaml: {key}: ")
    assert problem.endswith(f"got {shown}")


@pytest.mark.parametrize("width", ["8", 2.5, True, [8, True], [8, "4"]])
def test_width_must_be_integers(width):
    problem = only_problem(with_section("model", {"depth": 2, "width": width}))
    assert problem.startswith("cfg.yaml: model.width: must be an integer or a list of integers")


@pytest.mark.parametrize(
    ("section", "values", "key", "expected"),
    [
        ("training", {"lr": 0}, "training.lr", "greater than 0, got 0"),
        ("training", {"lr": -0.1}, "training.lr", "greater than 0, got -0.1"),
        ("training", {"lr": float("nan")}, "training.lr", "finite number, got nan"),
        ("training", {"batch_size": 0}, "training.batch_size", "greater than or equal to 1"),
        ("training", {"epochs": 0}, "training.epochs", "greater than or equal to 1"),
        ("training", {"momentum": 1.0}, "training.momentum", "less than 1, got 1.0"),
        ("training", {"momentum": -0.5}, "training.momentum", "greater than or equal to 0"),
        ("training", {"weight_decay": -1e-4}, "training.weight_decay", "greater than or equal"),
        ("model", {"depth": -1}, "model.depth", "greater than or equal to 0, got -1"),
        ("model", {"width": 0}, "model.width", "every width must be >= 1, got 0"),
        ("model", {"depth": 2, "width": [8, 0]}, "model.width", "every width must be >= 1"),
        ("data", {"n_samples": 3}, "data.n_samples", "greater than or equal to 4, got 3"),
        ("data", {"noise": -0.1}, "data.noise", "greater than or equal to 0"),
    ],
)
def test_out_of_range_value_names_the_key_and_the_bound(section, values, key, expected):
    problem = only_problem(with_section(section, values))
    assert problem.startswith(f"cfg.yaml: {key}: ")
    assert expected in problem


@pytest.mark.parametrize(
    "split",
    [
        {"train": 0.5, "val": 0.2, "test": 0.2},
        {"train": 0.8, "val": 0.2, "test": 0.2},
        {"train": 0.9},
    ],
)
def test_split_fractions_must_sum_to_one(split):
    problem = only_problem(with_section("data", {"split": split}))
    assert problem.startswith("cfg.yaml: data.split: train + val + test must sum to 1")


def test_split_fractions_that_sum_to_one_in_floating_point_are_accepted():
    config = validate_config(
        with_section("data", {"split": {"train": 0.7, "val": 0.2, "test": 0.1}})
    )
    assert config.data.split.test == 0.1


@pytest.mark.parametrize(("depth", "width"), [(3, [8, 4]), (1, [8, 4]), (0, [8])])
def test_width_list_length_must_equal_depth(depth, width):
    problem = only_problem(with_section("model", {"depth": depth, "width": width}))
    assert f"width lists {len(width)} layers but depth is {depth}" in problem


def test_width_list_gives_one_width_per_layer():
    config = validate_config(with_section("model", {"depth": 3, "width": [8, 4, 2]}))
    assert config.model.widths == [8, 4, 2]
    assert validate_config(with_section("model", {"depth": 3, "width": 5})).model.widths == [5] * 3
    assert validate_config(with_section("model", {"depth": 0, "width": []})).model.widths == []


def test_nesterov_needs_momentum():
    problem = only_problem(with_section("training", {"nesterov": True}))
    assert problem == "cfg.yaml: training: nesterov needs momentum > 0"
    config = validate_config(with_section("training", {"nesterov": True, "momentum": 0.9}))
    assert config.training.nesterov


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:0", "cuda:12", "auto"])
def test_training_device_takes_cpu_cuda_cuda_n_or_auto(device):
    assert validate_config(with_section("training", {"device": device})).training.device == device


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:", "cuda:-1", "cuda:1:2", "cuda0", "mps"])
def test_a_device_of_another_form_is_refused_naming_the_forms(device):
    problem = only_problem(with_section("training", {"device": device}))
    assert problem == (
        "cfg.yaml: training.device: must be cpu, cuda, cuda:N (the index of a CUDA device) or"
        f" auto, got {device!r}"
    )


@pytest.mark.parametrize("threads", ["auto", 1, 2, 64])
def test_training_threads_takes_auto_or_a_count(threads):
    assert (
        validate_config(with_section("training", {"threads": threads})).training.threads == threads
    )
    assert validate_config(MINIMAL).training.threads == "auto"


@pytest.mark.parametrize("threads", [0, -2, 1.5, True, "2", "all", None, [2], 1025])
def test_training_threads_of_another_kind_is_one_problem_naming_the_key(threads):
    problem = only_problem(with_section("training", {"threads": threads}))
    assert problem == (
        "cfg.yaml: training.threads: must be auto or a whole number from 1 to 1024,"
        f" got {threads!r}"
    )


def test_early_stopping_needs_a_validation_split():
    raw = with_section("training", {"early_stopping": {"patience": 3}})
    raw["data"]["split"] = {"train": 0.8, "val": 0.0, "test": 0.2}
    problem = only_problem(raw)
    assert "training.early_stopping needs a validation split" in problem
    assert "data.split.val" in problem
    raw["data"]["split"] = {"train": 0.7, "val": 0.1, "test": 0.2}
    assert validate_config(raw).training.early_stopping.patience == 3


def test_early_stopping_is_off_by_default_without_a_validation_split():
    raw = {"data": {"source": "xor", "split": {"train": 0.8, "val": 0.0, "test": 0.2}}}
    assert validate_config(raw).training.early_stopping is None
    assert "early_stopping: null" in dump_config(validate_config(raw))


@pytest.mark.parametrize(("value", "patience"), [(True, DEFAULT_PATIENCE), ({}, DEFAULT_PATIENCE),
                                                 ({"patience": 4}, 4), (False, None),
                                                 (None, None)])  # fmt: skip
def test_early_stopping_true_takes_the_defaults_and_false_or_null_turns_it_off(value, patience):
    stopping = validate_config(with_section("training", {"early_stopping": value}))
    found = stopping.training.early_stopping
    assert (found.patience if found is not None else None) == patience


def test_early_stopping_true_as_an_override_takes_the_defaults():
    raw = {"data": {"source": "xor"}}
    apply_overrides(raw, ["training.early_stopping=true"])
    assert validate_config(raw).training.early_stopping.patience == DEFAULT_PATIENCE


@pytest.mark.parametrize("value", [3, "yes", [1]])
def test_early_stopping_of_another_kind_names_the_key_and_gives_an_example(value):
    problem = only_problem(with_section("training", {"early_stopping": value}))
    assert problem.startswith("cfg.yaml: training.early_stopping: must be true, false, null or")
    assert "{patience: 20, min_delta: 0}" in problem
    assert "EarlyStoppingConfig" not in problem


def test_headline_metric_is_a_name_of_the_metric_registry():
    from nncli.metrics import METRICS

    for name in METRICS:
        assert validate_config(with_section("training", {"headline_metric": name}))
    problem = only_problem(with_section("training", {"headline_metric": "f2"}))
    assert problem.startswith("cfg.yaml: training.headline_metric: unknown metric 'f2'")


def test_headline_metric_of_the_other_task_is_refused_when_the_task_is_given():
    raw = with_section("training", {"headline_metric": "r2"})
    raw["data"]["task"] = "classification"
    problem = only_problem(raw)
    assert "'r2' is a regression metric and data.task is classification" in problem


def test_unknown_activation_lists_every_valid_name():
    problem = only_problem(with_section("model", {"activation": "rlu"}))
    assert problem.startswith("cfg.yaml: model.activation: unknown activation 'rlu'")
    assert "did you mean 'relu'" in problem
    assert problem.endswith("valid: " + ", ".join(sorted(ACTIVATIONS)))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_registered_activation_validates(name):
    assert validate_config(with_section("model", {"activation": name})).model.activation == name


def test_scientific_notation_without_a_dot_is_a_float():
    # PyYAML reads `1e-3` as a string; the schema accepts it as the number everyone means.
    raw = yaml.safe_load("data: {source: xor}\ntraining: {lr: 1e-3, weight_decay: 5E-4}\n")
    assert isinstance(raw["training"]["lr"], str)
    config = validate_config(raw)
    assert config.training.lr == pytest.approx(1e-3)
    assert config.training.weight_decay == pytest.approx(5e-4)


def test_every_problem_is_reported_at_once_with_file_and_dotted_key(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text(
        "data:\n"
        "  source: xor\n"
        "  sorce: moons\n"
        "model:\n"
        "  depth: -1\n"
        "  activation: rlu\n"
        "training:\n"
        "  lr: -0.1\n"
        "  batch_size: x\n"
        "  epochs: 3.0\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    keys = [
        "data.sorce",
        "model.depth",
        "model.activation",
        "training.lr",
        "training.batch_size",
        "training.epochs",
    ]
    assert len(problems) == len(keys), problems
    for key in keys:
        assert sum(p.startswith(f"{path}: {key}: ") for p in problems) == 1, (key, problems)
    assert str(info.value) == "\n".join(problems)


def test_every_problem_of_the_csv_data_keys_is_reported_at_once():
    data = {
        "source": "penguins.csv",
        "target": "species",
        "ignore_columns": ["id"],
        "features": ["bill", "bill", "species", "id"],
        "missing": "drop",
        "impute": "median",
        "delimiter": ":",
    }
    assert problems_of({"data": data}) == [
        "cfg.yaml: data.features: listed twice: 'bill'; 'species' is the target;"
        " also in data.ignore_columns: 'id'",
        "cfg.yaml: data.impute: applies only with data.missing: impute",
        "cfg.yaml: data.delimiter: input should be 'auto', ',', ';', '\\t' or '|', got ':'",
    ]
    forced = {"source": "p.csv", "target": "y", "features": ["a", "b"], "ignore_columns": ["c"],
              "categorical": ["a", "y"], "numeric": ["a", "c", "z"]}  # fmt: skip
    assert problems_of({"data": forced}) == [
        "cfg.yaml: data.categorical: 'y' is the target",
        "cfg.yaml: data.numeric: also in data.ignore_columns: 'c'; not in data.features: 'z'",
    ]
    both = {"source": "p.csv", "target": "y", "categorical": ["a"], "numeric": ["a"]}
    assert problems_of({"data": both}) == ["cfg.yaml: data.numeric: also in data.categorical: 'a'"]


def test_the_csv_data_keys_apply_to_csv_files_only():
    keys = {"features": ["x1"], "categorical": ["x1"], "numeric": ["x2"],
            "unknown_categories": "zeros", "missing": "impute", "missing_values": ["?"],
            "delimiter": ";"}  # fmt: skip
    problems = problems_of({"data": {"source": "xor", **keys}})
    assert problems == [f"cfg.yaml: data.{key}: applies to CSV files only" for key in keys]


def test_impute_defaults_to_the_mean_and_missing_values_to_the_usual_spellings():
    data = validate_config({"data": {"source": "p.csv", "target": "y", "missing": "impute"}}).data
    assert (data.missing, data.impute) == ("impute", "mean")
    assert data.missing_values == ["NA", "NaN", "N/A", "null", "None"]
    plain = validate_config({"data": {"source": "p.csv", "target": "y"}}).data
    assert (plain.missing, plain.impute, plain.delimiter) == (
        "error",
        "mean",
        "auto",
    )  # what imputing would use


# --- reading YAML ------------------------------------------------------------------------------


def test_read_yaml_mapping_returns_the_parsed_mapping(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  source: xor\nmodel:\n  width: [8, 4]\n")
    assert read_yaml_mapping(path) == {"data": {"source": "xor"}, "model": {"width": [8, 4]}}


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    lines = ["data:", "  source: xor", "training:", "  lr: 0.1: 2"]
    path.write_text("\n".join(lines) + "\n")
    column = lines[3].index(": 2") + 1  # the second ':' on line 4, 1-based
    with pytest.raises(
        UsageError, match=rf"^{at(path)}:4:{column}: mapping values are not allowed"
    ):
        read_yaml_mapping(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: \x00\n", "1:4: character U+0000 is not allowed in YAML"),
        ("data:\n  x: 1\x1f\n", "2:7: character U+001F is not allowed in YAML"),
    ],
)
def test_a_control_character_is_refused_on_one_line_with_its_position(tmp_path, text, message):
    path = tmp_path / "control.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:{message}"


def test_yaml_indentation_error_points_at_the_offending_line(tmp_path: Path):
    path = tmp_path / "indent.yaml"
    path.write_text("data:\n  source: xor\nmodel:\n  depth: 2\n   width: 8\n")
    with pytest.raises(UsageError, match=rf"^{at(path)}:5:\d+: "):
        load_config(path)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_config_is_refused(tmp_path: Path, text: str):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=rf"^{at(path)}: config is empty"):
        load_config(path)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just words\n", "str")])
def test_config_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str, kind: str):
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=rf"config must be a mapping of sections, got {kind}$"):
        load_config(path)


def test_python_tags_are_refused_and_nothing_runs(tmp_path: Path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"data: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(UsageError, match=rf"^{at(path)}:1:\d+: YAML tag not allowed"):
        load_config(path)
    assert not marker.exists()


def test_custom_tags_are_refused(tmp_path: Path):
    path = tmp_path / "tag.yaml"
    path.write_text("data:\n  source: !dataset xor\n")
    with pytest.raises(UsageError, match=r"YAML tag not allowed.*!dataset"):
        load_config(path)


def test_missing_config_file(tmp_path: Path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(UsageError, match=rf"^{at(path)}: config file not found$"):
        load_config(path)


# --- --set overrides ---------------------------------------------------------------------------


def test_override_values_are_parsed_as_yaml():
    raw = {"data": {"source": "xor"}}
    keys = apply_overrides(
        raw, ["training.lr=0.1", "model.width=[8,4]", "model.depth=2", "training.nesterov=true"]
    )
    assert keys == {"training.lr", "model.width", "model.depth", "training.nesterov"}
    assert raw["training"]["lr"] == 0.1 and isinstance(raw["training"]["lr"], float)
    assert raw["model"]["width"] == [8, 4]
    assert raw["model"]["depth"] == 2 and isinstance(raw["model"]["depth"], int)
    assert raw["training"]["nesterov"] is True


def test_override_creates_missing_nested_sections():
    raw = {"data": {"source": "xor"}}
    apply_overrides(raw, ["training.early_stopping.patience=5"])
    assert raw["training"] == {"early_stopping": {"patience": 5}}
    assert validate_config(raw).training.early_stopping.patience == 5


def test_override_fills_a_section_left_empty_in_yaml():
    raw = yaml.safe_load("data:\n  source: xor\ntraining:\n")
    apply_overrides(raw, ["training.epochs=7"])
    assert validate_config(raw).training.epochs == 7


def test_override_replaces_an_existing_value_and_keeps_its_siblings():
    raw = {"data": {"source": "xor", "seed": 4}}
    apply_overrides(raw, ["data.source=moons"])
    assert raw == {"data": {"source": "moons", "seed": 4}}


@pytest.mark.parametrize("item", ["training.lr", "=0.1", " =0.1", ""])
def test_override_without_key_and_equals_is_a_usage_error(item):
    with pytest.raises(UsageError, match=r"expected KEY=VALUE"):
        apply_overrides({}, [item])


def test_override_through_a_scalar_is_a_usage_error():
    raw = {"data": {"source": "xor"}}
    with pytest.raises(UsageError, match=r"^--set data\.source\.x: 'data\.source' is a value"):
        apply_overrides(raw, ["data.source.x=3"])


def test_unknown_override_key_is_reported_as_coming_from_set(write_config):
    path = write_config(MINIMAL)
    with pytest.raises(ConfigError) as info:
        load_config(path, ["training.lrr=0.1"])
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}: --set training.lrr: unknown key 'lrr'")
    assert "did you mean 'lr'" in problem


def test_invalid_override_values_are_all_reported_with_set_prefix(write_config):
    path = write_config(MINIMAL)
    with pytest.raises(ConfigError) as info:
        load_config(path, ["training.lr=-1", "model.depth=-1"])
    assert sorted(info.value.problems) == [
        f"{path}: --set model.depth: input should be greater than or equal to 0, got -1",
        f"{path}: --set training.lr: input should be greater than 0, got -1",
    ]


def test_overrides_apply_on_top_of_the_file(write_config):
    path = write_config({"data": {"source": "xor"}, "training": {"lr": 0.5, "epochs": 3}})
    config = load_config(path, ["training.lr=1e-3", "model.width=[8,4]", "model.depth=2"])
    assert config.training.lr == pytest.approx(1e-3)
    assert config.training.epochs == 3
    assert config.model.widths == [8, 4]


# --- paths and names ---------------------------------------------------------------------------


def test_relative_csv_path_in_a_config_resolves_from_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "c.yaml"
    path.write_text("data:\n  source: data/points.csv\n  target: y\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert Path(config.data.source) == (folder / "data" / "points.csv").resolve()


def test_relative_csv_path_from_set_resolves_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "c.yaml"
    path.write_text("data:\n  source: xor\n  target: y\n")
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    config = load_config(path, ["data.source=points.csv"])
    assert Path(config.data.source) == (cwd / "points.csv").resolve()


def test_a_tilde_in_a_csv_path_is_the_home_folder(write_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(write_config({"data": {"source": "~/d/points.csv", "target": "y"}}))
    assert config.data.source == str(tmp_path / "home" / "d" / "points.csv")
    again = load_config(write_config(MINIMAL), ["data.source=~/p.csv", "data.target=y"])
    assert again.data.source == str(tmp_path / "home" / "p.csv")


def test_dataset_names_are_not_treated_as_paths(write_config):
    assert load_config(write_config({"data": {"source": "moons"}})).data.source == "moons"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("moons.yaml", "moons"), ("my experiment!.yaml", "my-experiment-"), ("_x.yml", "x")],
)
def test_default_name_comes_from_the_config_filename(write_config, filename, expected):
    assert load_config(write_config(MINIMAL, filename)).name == expected


def test_explicit_name_beats_the_filename(write_config):
    path = write_config({"name": "chosen", **MINIMAL}, "file.yaml")
    assert load_config(path).name == "chosen"
    assert load_config(path, ["name=from-set"]).name == "from-set"


@pytest.mark.parametrize("name", ["has space", "_hidden", "a/b", "rtl\u202eexe", "zw\u200dj", ""])
def test_invalid_name_is_refused(write_config, name):
    with pytest.raises(ConfigError, match=r"name: letters, digits, '_', '.' and '-' only"):
        load_config(write_config({"name": name, **MINIMAL}))


def test_a_config_file_named_in_hangul_names_its_run(write_config):
    """A Korean learner's `건강.yaml` names its run folder `건강-<time>`, as `moons.yaml` does."""
    assert load_config(write_config(MINIMAL, "건강.yaml")).name == "건강"
    assert load_config(write_config({"name": "붓꽃_2", **MINIMAL})).name == "붓꽃_2"


# --- dump --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        MINIMAL,
        {
            "name": "full",
            "seed": 7,
            "data": {
                "source": "moons",
                "n_samples": 300,
                "noise": 0.25,
                "seed": 3,
                "split": {"train": 0.6, "val": 0.3, "test": 0.1},
                "scaling": "minmax",
            },
            "model": {"depth": 2, "width": [8, 4], "activation": "tanh"},
            "training": {
                "lr": 1e-5,
                "batch_size": 8,
                "epochs": 3,
                "momentum": 0.9,
                "nesterov": True,
                "weight_decay": 1e-4,
                "early_stopping": {"patience": 2, "min_delta": 1e-3},
            },
            "output": {"dir": "elsewhere"},
        },
    ],
)
def test_dump_config_round_trips(raw):
    config = validate_config(raw)
    dumped = dump_config(config)
    again = validate_config(yaml.safe_load(dumped))
    assert again == config


def test_dump_config_fills_in_defaults():
    dumped = yaml.safe_load(dump_config(validate_config(MINIMAL)))
    assert dumped["training"]["lr"] == 0.05
    assert dumped["model"] == {"depth": 1, "width": 16, "activation": "relu"}


def test_a_key_given_twice_is_refused_with_its_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("data:\n  source: moons\n  source: xor\n")
    with pytest.raises(UsageError, match=r"dup\.yaml:3:3: key 'source' appears twice"):
        load_config(path)


def test_a_key_with_dots_is_reported_not_crashed_on(tmp_path):
    path = tmp_path / "dots.yaml"
    path.write_text("data: {source: moons}\n'0.': 1\n")
    with pytest.raises(ConfigError, match=r"0\.: unknown key '0\.'"):
        load_config(path)


@pytest.mark.parametrize("key", ["seed", "data.seed"])
@pytest.mark.parametrize("value", ["-1", "99999999999999999999"])
def test_seeds_out_of_range_are_config_errors(tmp_path, key, value):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: moons}\n")
    with pytest.raises(ConfigError, match=f"--set {key}: input should be"):
        load_config(path, [f"{key}={value}"])


# --- hostile YAML ------------------------------------------------------------------------------


def billion_laughs() -> str:
    """542 bytes that expand to 9**9 (387 million) strings through nested aliases."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(["data: {source: moons}", *lines]) + "\n"


BOMB_COMMANDS = {"config": ["config", "bomb.yaml"], "train": ["train", "bomb.yaml", "--out", "r"],
                 "resume": ["train", "--resume", "run"]}  # fmt: skip
NOT_REGULAR = ["fifo", "/dev/zero", "huge"]


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory, limited_cli) -> dict:
    """The CLI given a YAML bomb (by each command that reads a config) and configs that are not
    small regular files, all in one child process with limited memory and time: a hang or a
    memory blow-up fails the tests instead of stalling the machine. case -> (its folder, the
    CompletedProcess)."""
    cases = {}
    for command, args in BOMB_COMMANDS.items():
        folder = tmp_path_factory.mktemp("bomb")
        (folder / "bomb.yaml").write_text(billion_laughs())
        run = folder / "run"  # an interrupted run folder whose config.yaml is the bomb
        run.mkdir()
        (run / "run.json").write_text('{"status": "interrupted"}')
        (run / "last.safetensors").write_bytes(b"")
        (run / "config.yaml").write_text(billion_laughs())
        cases[command] = (args, folder)
    for kind in NOT_REGULAR:
        folder = tmp_path_factory.mktemp("irregular")
        path = folder / "cfg.yaml"
        if kind == "fifo":
            os.mkfifo(path)  # reading it would wait for a writer forever
        elif kind == "/dev/zero":
            path.symlink_to("/dev/zero")  # reading it would never end
        else:
            with path.open("wb") as handle:
                handle.truncate(1 << 40)
        cases[kind] = (["train", path], folder)
    results = limited_cli(cases)
    return {name: (folder, results[name]) for name, (_, folder) in cases.items()}


@pytest.mark.slow
@pytest.mark.parametrize("command", list(BOMB_COMMANDS))
def test_a_yaml_alias_bomb_is_refused_at_once(hostile_files, command: str):
    folder, result = hostile_files[command]
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert "YAML aliases expand to more than 100,000 nodes" in result.stderr
    assert not (folder / "r").exists()


DEEP = r":\d+:\d+: nested deeper than 32 levels$"
SELF_ALIAS = r":1:\d+: YAML alias \*\w refers to a node that contains it$"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: " + "[" * 5000 + "]" * 5000, DEEP),
        ("data:\n" + "".join(f"{' ' * i}k{i}:\n" for i in range(1, 40)), DEEP),
        ("data: &d {source: moons, again: *d}", SELF_ALIAS),
        ("a: &a [*a]\ndata: {source: moons}", SELF_ALIAS),
        ("seed: " + "9" * 5000, r": cannot read a value: Exceeds the limit \(4300 digits\)"),
        ("seed: 2020-13-45\ndata: {source: moons}", r": cannot read a value: month must be in"),
        (
            "".join(f"k{i}: 1\n" for i in range(60_000)),
            r":\d+:\d+: the YAML holds more than 100,000",
        ),
    ],
)
def test_deep_recursive_or_unreadable_yaml_is_one_line_not_a_crash(tmp_path, text, message):
    path = tmp_path / "cfg.yaml"
    path.write_text(text + "\n")
    with pytest.raises(UsageError, match=rf"^{at(path)}{message}"):
        load_config(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[" * 3000 + "]" * 3000, "--set data.noise:1:33: nested deeper than 32 levels"),
        ("9" * 5000, "--set data.noise: cannot read a value"),
        ("{a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], b: [" + ", ".join(["*a"] * 10**4) + "]}",
         "YAML aliases expand to more than 100,000 nodes"),
    ],
)  # fmt: skip
def test_hostile_override_values_are_refused(value, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        apply_overrides({"data": {"source": "moons"}}, [f"data.noise={value}"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_a_config_that_is_not_a_small_regular_file_is_refused_at_once(hostile_files, kind):
    folder, result = hostile_files[kind]
    assert result.returncode == 2, result.stderr
    shown = {
        "fifo": "is a FIFO, not a regular file",
        "/dev/zero": "is a device, not a regular",
        "huge": "; nncli reads at most 1 MiB",
    }
    assert result.stderr.startswith(f"error: {folder / 'cfg.yaml'}: config file ")
    assert shown[kind] in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("model", {"width": 10**9}, "model.width: every width must be at most 10,000,000"),
        ("model", {"width": 10**30}, "model.width: every width must be at most 10,000,000"),
        ("model", {"depth": 2, "width": [10**5, 10**5]}, "model: the hidden layers would hold"
                                                          " 10,000,000,000 weights"),
        ("model", {"depth": 256, "width": 5000}, "model: the hidden layers would hold"),
        ("training", {"lr": 1e300}, "training.lr: must be at most 3.403e+38, the largest float32"),
        ("training", {"weight_decay": 1e39}, "training.weight_decay: must be at most 3.403e+38"),
        ("training", {"batch_size": 10**4000}, "training.batch_size: input should be less than"),
    ],
)  # fmt: skip
def test_sizes_and_rates_that_cannot_be_trained_are_refused(section, values, message):
    assert only_problem(with_section(section, values)).startswith(f"cfg.yaml: {message}")


def test_training_precision_takes_fp32_tf32_or_bf16():
    for precision in ["fp32", "tf32", "bf16"]:
        config = validate_config(with_section("training", {"precision": precision}))
        assert config.training.precision == precision
    problem = only_problem(with_section("training", {"precision": "fp16"}))
    assert problem.startswith("cfg.yaml: training.precision: ")
    assert "'fp32', 'tf32' or 'bf16'" in problem and "fp16" in problem


def test_a_saved_config_drops_the_keys_an_earlier_version_wrote_and_a_users_keeps_them(tmp_path):
    from nncli.config.loading import load_config

    saved = {"training": {"early_stopping": {"monitor": "val_loss", "patience": 2}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"data": {"source": "moons"}, **saved}))
    assert load_config(path, saved=True).training.early_stopping.patience == 2
    with pytest.raises(ConfigError, match="unknown key 'monitor'"):
        load_config(path)


@pytest.mark.parametrize("missing", ["error", "drop", "impute"])
def test_the_resolved_config_says_impute_mean_as_it_applies(missing):
    data = {"source": "p.csv", "target": "y", "missing": missing}
    config = validate_config({"data": data})
    assert config.data.impute == "mean"
    assert "impute: mean" in dump_config(config)
    # A run folder's config.yaml from before says null, and reads the same.
    assert validate_config({"data": data | {"impute": None}}).data.impute == "mean"
    # Read back, the resolved config validates as it was written.
    assert validate_config(yaml.safe_load(dump_config(config))) == config
    median = {"data": data | {"impute": "median"}}
    if missing == "impute":
        assert validate_config(median).data.impute == "median"
    else:
        assert problems_of(median) == [
            "cfg.yaml: data.impute: applies only with data.missing: impute"
        ]


def test_a_list_or_mapping_as_a_key_is_named_as_such_not_as_a_tag(tmp_path: Path):
    path = tmp_path / "complex.yaml"
    path.write_text("data:\n  source: moons\n? [a, b]\n: 1\n")
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:3:3: a key must be a plain name, not a list or mapping"


def test_a_quote_left_open_is_named_where_it_opens_not_where_the_file_ends(tmp_path: Path):
    path = tmp_path / "quote.yaml"
    lines = ["data:", "  source: moons", "model:", "  depth: 1", "  width: 8", 'name: "moons']
    path.write_text("\n".join(lines + [f"# note {n}" for n in range(55)]) + "\n")  # 61 lines
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:6:7: this quoted value is never closed")


def test_a_class_weight_that_is_not_finite_is_named_by_its_value(tmp_path: Path):
    path = tmp_path / "weights.yaml"
    path.write_text("data: {source: moons}\ntraining:\n  class_weight: {0: 1, 1: .inf}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}: training.class_weight: every weight must be a positive finite number, got inf"
        " for class 1"
    ]

"""What `--resume` reads from an interrupted run folder before it trusts it: its status and
kind, its config (checked to fit in memory) and its saved state, which must match the config;
anything not resumable is refused with one line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nncli.config.loading import load_config, without_retired_keys
from nncli.config.schema import Config
from nncli.errors import UsageError
from nncli.fileio import read_json_mapping
from nncli.runs import layout as runs
from nncli.runs.layout import TRAIN, RunKind, command_name
from nncli.runs.stacks import read_units


@dataclass
class Saved:
    """What an interrupted folder holds to continue from."""

    state: object  # engine.TrainingState
    params: list
    info: dict


def read_resumable(path: Path, kind: RunKind) -> tuple[dict, Config, Saved]:
    """(run.json's record, the config, the saved state) of an interrupted folder of `kind`,
    read while its lock is held; a finished, failed or foreign folder is refused."""
    status_file = path / runs.RUN_FILE
    record = read_json_mapping(status_file)  # a regular file of bounded size
    status = record.get("status")
    if status == "finished":
        raise UsageError(f"{path}: this run already finished; there is nothing to resume")
    if status == "failed":
        raise UsageError(f"{path}: this run failed; resuming would repeat the failure")
    recorded_kind = record.get("kind", TRAIN.name)
    if recorded_kind != kind.name:
        raise UsageError(
            f"{path}: this folder was started by {command_name(recorded_kind)}; resume it with that"
        )
    if kind.study:  # a search resumes from its study; run.json says what it searches
        config = load_config(path / runs.CONFIG_FILE, follow_symlinks=False, saved=True)
        info = record.get(kind.name)
        if not isinstance(info, dict):
            raise UsageError(f"{path}: its {runs.RUN_FILE} does not say what it searches")
        return record, config, Saved(None, None, info)
    last = path / runs.LAST_STATE_FILE
    split = read_units(path)  # a sweep split across processes keeps its parts instead
    if not last.exists() and split is None:
        raise UsageError(f"{path}: no {runs.LAST_STATE_FILE} (stopped before its first epoch)")
    config = load_config(path / runs.CONFIG_FILE, follow_symlinks=False, saved=True)
    from nncli.model.mlp import check_widths_fit  # before the state saved in its shape

    check_widths_fit(config.model.widths, str(path / runs.CONFIG_FILE))
    if split is not None:
        state, params, info = None, None, split.get("info")
    else:
        from nncli.runs.state import load_training_state

        state, params, info = load_training_state(last)
    if not isinstance(info, dict):
        raise UsageError(f"{path}: its saved progress is malformed")
    if without_retired_keys(info.get("config")) != config.model_dump(mode="json"):
        raise UsageError(
            f"{path}: {runs.CONFIG_FILE} does not match the saved training state;"
            " was it edited after the run started?"
        )
    return record, config, Saved(state, params, info)

"""`nncli tune`: a hyperparameter search with Optuna whose trials train stacked.

Its lifecycle: the search space and the config checked (no optuna, no torch: a typo is refused
as fast as in `nncli train`), the data prepared and the setup reported, the run folder claimed
(or an interrupted one reopened), the study opened; then, until the study holds `--trials`
trials that ran to an end, `--batch` trials are asked at once, trained as stacks
(`grid.trials`), pruned on their validation loss per epoch, and told back as each stack
finishes; last, the folder's files (`app.tuneoutputs`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path
from typing import Any

from nncli import phases
from nncli.app.tunerequest import (
    TuneRequest,
    checked_trials,
    saved_settings,
    search_texts,
    settings,
)
from nncli.config.loading import configure, parse_override, read_yaml_mapping
from nncli.config.search import check_space
from nncli.errors import ConfigError, UsageError
from nncli.grid.session import Session, Setup
from nncli.grid.spec import build_grid
from nncli.runs import layout as runs
from nncli.runs.folder import RunFolder
from nncli.runs.layout import TRAIN, TUNE


def run_tune(request: TuneRequest, session: Session | None = None) -> dict | None:
    """Search, train and tell until the study holds its trials; return summary.json's mapping.

    A stop request ends it between steps: the trials that finished are in the study, those cut
    short are asked again on `--resume` (their stack trains again from its start).
    """
    session = session or Session()
    if importlib.util.find_spec("optuna") is None:
        raise UsageError(
            "nncli tune needs Optuna, which is not installed: pip install 'nncli[optuna]'"
        )
    folder, spec, config_file, space = _open(request, session)
    try:
        raw = read_yaml_mapping(config_file)
        overrides = [] if request.resume else [parse_override(o) for o in request.overrides]
        grid = build_grid(
            config_file, [] if request.resume else request.overrides, [], 1, require_vary=False
        )
        from nncli.app import setup as gridsetup  # torch and pandas: the input is valid

        phases.mark("imports")
        device = gridsetup.devices(grid)
        prepared = gridsetup.prepare(grid, config_file, None)
        gridsetup.check_stacks(grid, prepared)
        threads = gridsetup.threads(grid, prepared)
        shown = _with_search_line(session, spec)
        setup = gridsetup.describe(
            grid, prepared, device, threads, TRAIN, shown, searched=list(space)
        )
        setup += "\n" + search_line(spec)
        phases.mark("data")
        if grid.base.tracking.tensorboard or grid.base.tracking.mlflow is not None:
            session.warn(
                "tracking: not written by tune (its trials are in trials.csv and the study)"
            )
        (data,) = prepared.values()
        from nncli.app import study as studies  # optuna: once everything above is valid

        # A storage given is opened before the folder is claimed: a bad URL leaves nothing.
        opened = spec["storage"] and studies.opened_storage(spec["storage"])
        if folder is None:
            folder = RunFolder.create(
                grid.base,
                request.out,
                kind=TUNE,
                stop=session.should_stop,
                device=device,
                threads=gridsetup.threads_record(threads),
                setup=setup,
                tune=spec,
            )
        else:
            folder.set_status("running", device=device, tune=spec)
    except BaseException:
        if folder is not None:
            folder.release()  # a resume: it stays interrupted, resumable
        raise
    from nncli.app.tuneoutputs import Keeper, write_tune_outputs

    with folder:
        storage = spec["storage"] or str(folder.path / runs.STUDY_FILE)
        opened = opened or studies.storage_of(storage)
        name = spec["study"] or folder.path.name
        existing = studies.trial_count(opened, name)
        seed = studies.sampler_seed(grid.base.seed, spec["storage"] is not None, existing)
        study = studies.open_study(
            opened, name, sampler=spec["sampler"], pruner=spec["pruner"], seed=seed
        )
        search = studies.Search(study, space, str(folder.path.resolve()))
        retried = search.retry_abandoned()
        if retried:
            session.info(f"{retried} trial(s) this folder left running: asked again")
        keeper = Keeper(folder.path, search)
        prune = spec["pruner"] != "none"
        _search(search, spec, raw, config_file, overrides, data, session, keeper, storage, prune)
        phases.mark("training")
        result = write_tune_outputs(
            folder, search, keeper, spec, data, grid.base, device, storage, name, session
        )
        folder.finish()
    return result


def _search(
    search, spec, raw, config_file, overrides, data, session, keeper, storage, prune
) -> None:
    """Ask, train and tell, a batch at a time, until the study holds its trials."""
    from nncli.app.study import INVALID
    from nncli.grid.trials import train_trials
    from nncli.train.state import TrainingStopped, TrialsStopped

    target, batch, seeds = spec["trials"], spec["batch"], spec["seeds"]
    while True:
        done, running = search.counts()
        wanted = min(batch, target - done - running)
        if wanted <= 0:
            return
        if session.should_stop is not None and session.should_stop():
            raise TrialsStopped(done, target, storage)
        asked = search.ask(wanted)
        trials, configs = [], []
        for trial, params in asked:
            try:
                config = configure(raw, config_file, overrides, list(params.items()))
            except (ConfigError, UsageError) as exc:  # a combination the schema refuses
                problem = "; ".join(exc.problems) if isinstance(exc, ConfigError) else str(exc)
                search.tell(trial, {"problem": problem}, INVALID)
                continue
            trials.append(trial)
            configs.append(
                [config.model_copy(update={"seed": config.seed + i}) for i in range(seeds)]
            )
        first = done + 1
        session.info(f"trials {first}-{first + wanted - 1} of {target}: {len(trials)} training")
        told: set[int] = set()
        try:
            for finished in train_trials(
                configs, data, session, prune=_pruner(search, trials) if prune else None
            ):
                for t, fits in finished.items():
                    keeper.tell(trials[t], fits)
                    told.add(t)
        except TrainingStopped:
            for t, trial in enumerate(trials):
                if t not in told:
                    search.interrupted(trial)
            raise TrialsStopped(search.counts()[0], target, storage) from None
        if keeper.best_line():
            session.info(keeper.best_line())


def _pruner(search, trials: list):
    """What a stack asks after each epoch: the trials to stop, each judged on its seeds' mean
    validation loss while every one of its models trains (none stopped early or diverged)."""

    def prune(owners: list[int], report) -> set[int]:
        stop = set()
        for t in dict.fromkeys(owners):
            models = [i for i, owner in enumerate(owners) if owner == t]
            if report.val_loss is None or not all(report.active[i] for i in models):
                continue
            value = sum(report.val_loss[i] for i in models) / len(models)
            if search.report(trials[t], report.epoch, value):
                stop.add(t)
        return stop

    return prune


def _open(request: TuneRequest, session: Session) -> tuple[RunFolder | None, dict, Path, Any]:
    """The search's settings, its config file and its space, checked; an interrupted folder
    reopened for `--resume` (None for a new search, whose folder is claimed once its data is
    read)."""
    if request.resume is not None:
        given = [
            request.config_path,
            request.space,
            request.batch,
            request.seeds,
            request.sampler,
            request.pruner,
            request.storage,
            request.study,
            request.out,
        ]
        if any(v is not None for v in given) or request.overrides or request.search:
            raise UsageError(
                "--resume takes only the run folder (and --trials, a new total):"
                " the folder holds the config and the search"
            )
        folder, _, saved = RunFolder.reopen(request.resume, kind=TUNE, stop=session.should_stop)
        try:
            spec = saved_settings(saved.info, folder.path)
            if request.trials is not None:
                spec["trials"] = checked_trials(request.trials)
            config_file = folder.path / runs.CONFIG_FILE
            space = check_space(
                spec.get("space", {}), read_yaml_mapping(config_file), config_file, [], "--search"
            )
        except BaseException:
            folder.release()
            raise
        return folder, spec, config_file, space
    if request.config_path is None:
        raise UsageError("give a config file, or --resume FOLDER")
    spec = settings(request)
    config_file = Path(request.config_path)
    raw = read_yaml_mapping(config_file)
    problems: list[str] = []
    overrides = []
    for item in request.overrides:
        try:
            overrides.append(parse_override(item))
        except UsageError as exc:
            problems.append(str(exc))
    base = None
    try:
        base = configure(raw, config_file, overrides)
    except ConfigError as exc:
        problems += exc.problems
    texts, origin = search_texts(request)
    try:
        space = check_space(texts, raw, config_file, overrides, origin)
    except ConfigError as exc:
        problems += [p for p in exc.problems if p not in problems]
    if base is not None and base.data.split.val == 0:
        problems.append(
            f"{config_file}: data.split.val is 0; tune chooses its best trial on"
            " validation: give the validation split a share, e.g. --set"
            " data.split.val=0.15 with data.split.train=0.7"
        )
    if problems:
        raise ConfigError(problems)
    spec["space"] = {key: d.text for key, d in space.items()}
    spec["config"] = str(config_file.resolve())
    return None, spec, config_file, space


def _with_search_line(session: Session, spec: dict) -> Session:
    """The session, its setup ending with what is searched and how."""
    if session.on_setup is None:
        return session
    line = search_line(spec)
    show = session.on_setup
    return replace(session, on_setup=lambda s: show(Setup(s.title, [*s.paragraphs, line])))


def search_line(spec: dict) -> str:
    """What is searched and how, as the setup's last paragraph."""
    keys = "; ".join(f"{key} {text}" for key, text in spec["space"].items())
    seeds = f", {spec['seeds']} seeds each" if spec["seeds"] > 1 else ""
    return (
        f"search: {spec['trials']} trials{seeds}, {spec['batch']} at a time trained stacked,"
        f" {spec['sampler']} sampler, {spec['pruner']} pruner on val loss; {keys}"
    )

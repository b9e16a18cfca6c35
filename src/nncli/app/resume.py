"""Resuming a run folder: reopened by the leader, what it saved shared with every rank, its grid
and data rebuilt and checked against the first run's; then it trains as a new run does."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict
from pathlib import Path

from nncli.app.request import GridRequest, Ready, together
from nncli.app.tracking import open_tracking, start_tracking
from nncli.config.schema import Config
from nncli.errors import ConfigError, UsageError
from nncli.grid.session import Session
from nncli.grid.spec import GridSpec, grid_from_spec
from nncli.grid.split import survey
from nncli.runs.folder import RunFolder
from nncli.runs.follower import Follower
from nncli.runs.resumable import Saved
from nncli.train.parallel import broadcast


def restart(request: GridRequest, session: Session) -> Ready:
    """A run to resume, ready to train on from where it stopped."""
    ranks, should_stop = session.ranks, session.should_stop
    leader = ranks.leader
    path = request.resume
    given = [request.config_path, request.out, *request.overrides, *request.vary]
    given += [request.n_seeds, request.sequential, request.diagnostics, request.max_models]

    def reopen() -> tuple[RunFolder, Saved] | None:
        if any(option not in (None, False) for option in given) or request.overrides:
            raise UsageError("--resume takes only the run folder: it holds the config and settings")
        if not leader:
            return None
        opened, config, saved = RunFolder.reopen(path, kind=request.kind, stop=should_stop)
        try:
            # Checked before any data the state names is opened: see `resumed_spec`.
            spec = resumed_spec(path, saved.info.get("grid"), opened.record.get("grid"), config,
                                one_model=request.kind.single_model)  # fmt: skip
            saved.info["grid"] = asdict(spec)
            if ranks.distributed and not request.kind.data_parallel and saved.state is not None:
                raise UsageError(
                    f"{path}: this {request.kind.name} ran in one process; resume it without"
                    " torchrun"
                )
        except BaseException:
            opened.release()
            raise
        return opened, saved

    reopened = together(ranks, reopen)
    folder = reopened[0] if reopened is not None else Follower(request.kind, should_stop, path)
    tracked: list = []  # the run's tracking, once its grid is rebuilt
    try:
        saved = broadcast(ranks, reopened[1] if reopened is not None else None)
        folder.info = saved.info

        def rebuild():
            spec = GridSpec(**saved.info["grid"])
            grid = grid_from_spec(spec, require_vary=False, flag=request.kind.vary_flag)
            tracked.append(start_tracking(grid, session))  # its imports overlap torch's
            from nncli.app import setup as gridsetup  # data and devices: the grid is valid

            gridsetup.check_same_batch(grid, saved.info, ranks, path)
            device = gridsetup.devices(grid)  # `auto` may choose another device than before
            prepared = gridsetup.prepare(grid, path, saved.info.get("data"))
            gridsetup.check_stacks(grid, prepared)  # memory, as a new run: this machine may differ
            threads = gridsetup.threads(grid, prepared)  # `auto` counts the cores anew
            gridsetup.describe(grid, prepared, device, threads, request.kind, session)
            return grid, prepared, device, gridsetup.threads_record(threads)

        grid, prepared, device, threads = together(ranks, rebuild)
        split = None
        if not request.kind.data_parallel and saved.state is None:  # split across processes
            found = together(ranks, lambda: survey(grid, ranks.world, path) if leader else None)
            split = broadcast(ranks, found)
        if leader:
            folder.set_status(
                "running",
                pid=os.getpid(),
                device=device,
                threads=threads,
                processes=ranks.world,
            )
            session.info(f"resuming {folder.path} at {folder.position(saved.state)}")
        tracking = tracked[0] if tracked else None
        open_tracking(tracking, folder, grid, resuming=True)
    except BaseException:
        if leader:
            folder.release()  # it stays as it was: interrupted, resumable
        if tracked and tracked[0] is not None:
            tracked[0].close()
        raise
    diagnostics = bool(saved.info.get("diagnostics"))
    return Ready(folder, grid, prepared, device, diagnostics, saved, split, tracking)


def resumed_spec(
    path: Path, saved: object, recorded: object, config: Config, *, one_model: bool
) -> GridSpec:
    """The spec a folder's saved state holds, checked against what the folder shows the user.

    A state file is binary and may have been edited: before any data it names is opened, its
    config must resolve to the folder's config.yaml (`config`), and what it varies must be what
    run.json records (`recorded`, absent in folders of older versions, which then may not vary
    the data). So a resumed run trains what config.yaml and run.json say, and nothing else.
    """
    fields = {f.name for f in dataclasses.fields(GridSpec)}
    malformed = UsageError(f"{path}: its saved training state is malformed (its grid)")
    if not isinstance(saved, dict) or not set(saved) <= fields or "raw" not in saved:
        raise malformed
    try:
        spec = GridSpec(**saved)
    except TypeError:
        raise malformed from None
    kinds = [(spec.raw, dict), (spec.config_path, str), (spec.overrides, list), (spec.vary, list)]
    kinds += [(spec.n_seeds, int), (spec.sequential, bool), (spec.max_models, int)]
    if not all(isinstance(value, kind) for value, kind in kinds) or not all(
        isinstance(item, str) for item in [*spec.overrides, *spec.vary]
    ):
        raise malformed
    edited = UsageError(
        f"{path}: its saved training state does not match its config.yaml and run.json;"
        " was one of them edited after the run started?"
    )
    shown = {"vary": spec.vary, "seeds": spec.n_seeds, "sequential": spec.sequential}
    if isinstance(recorded, dict) and recorded != shown:
        raise edited
    if recorded is None and any(_is_data_key(item) for item in spec.vary):
        raise edited  # an older folder: run.json does not say which data it varied
    if one_model and (spec.vary or spec.n_seeds != 1):
        raise edited
    try:  # validation only: no data is read
        base = grid_from_spec(spec, require_vary=False).base
    except (ConfigError, UsageError):
        raise edited from None
    if base.model_dump(mode="json") != config.model_dump(mode="json"):
        raise edited
    return spec


def _is_data_key(item: str) -> bool:
    return item.partition("=")[0].strip().startswith("data.")

"""A new run: its grid built, its data prepared and checked on every rank, its setup reported,
then its run folder claimed."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from nncli import phases
from nncli.app.request import GridRequest, Ready, together
from nncli.app.tracking import closed_on_error, open_tracking, start_tracking
from nncli.errors import PeerFailed, UsageError
from nncli.grid.session import Session
from nncli.grid.spec import Grid, build_grid
from nncli.grid.split import survey
from nncli.runs.folder import RunFolder
from nncli.runs.follower import Follower
from nncli.train.parallel import Ranks, agree, broadcast


def start(request: GridRequest, session: Session) -> Ready:
    """A new run: its grid and data checked on every rank, then its folder claimed."""
    ranks = session.ranks
    if request.config_path is None:
        raise UsageError("give a config file, or --resume FOLDER")
    grid, prepared, diagnostics, device, threads, setup, tracking = together(
        ranks, lambda: _fresh_grid(request, session)
    )
    with closed_on_error(tracking):
        ready = _claim(request, session, grid, prepared, diagnostics, device, threads, setup)
        open_tracking(tracking, ready.folder, grid, resuming=False)
    ready.tracking = tracking
    return ready


def _claim(
    request: GridRequest,
    session: Session,
    grid: Grid,
    prepared: dict,
    diagnostics: bool,
    device: str,
    threads: object,
    setup: object,
) -> Ready:
    """The run folder claimed (by the leader), every rank knowing its path."""
    ranks = session.ranks
    together(ranks, lambda: _check_same_data(ranks, prepared, request.config_path))
    info = {
        "kind": request.kind.name,
        "config": grid.base.model_dump(mode="json"),
        "data": {key: data.fingerprint() for key, data in prepared.items()},
        "grid": asdict(grid.spec),
        "diagnostics": diagnostics,
        "processes": ranks.world,
    }
    try:
        folder = Follower(request.kind, session.should_stop)
        if ranks.leader:
            folder = RunFolder.create(
                grid.base,
                request.out,
                kind=request.kind,
                stop=session.should_stop,
                info=info,
                device=device,
                threads=threads,
                **({"processes": ranks.world} if ranks.distributed else {}),
                setup=setup,
                grid=shown_grid(grid),
            )
    except Exception as exc:
        agree(ranks, exc)
        raise
    try:
        agree(ranks, None)
        # Every rank knows the folder: the others record the run should the leader be lost.
        folder.path = broadcast(ranks, folder.path if ranks.leader else None)
    except PeerFailed:  # another process died while the leader claimed: nothing trained
        if ranks.leader:
            folder.abandon("another process of the launch stopped before training")
        raise
    split = None
    if ranks.distributed and not request.kind.data_parallel:
        split = survey(grid, ranks.world)
    return Ready(folder, grid, prepared, device, diagnostics, split=split)


def _fresh_grid(request: GridRequest, session: Session):
    """A new run's grid, its prepared data, and its setup (reported)."""
    grid = build_grid(
        request.config_path,
        request.overrides,
        request.vary,
        1 if request.n_seeds is None else request.n_seeds,
        sequential=bool(request.sequential),
        require_vary=request.kind.requires_vary,
        flag=request.kind.vary_flag,
        **({} if request.max_models is None else {"max_models": request.max_models}),
    )
    # Its worker imports the tracking backends while this process imports torch.
    tracking = start_tracking(grid, session)
    with closed_on_error(tracking):
        # Data, devices and threads (torch, pandas) are imported only now: the config is valid.
        from nncli.app import setup as gridsetup

        phases.mark("imports")
        diagnostics = bool(request.diagnostics)
        device = gridsetup.devices(grid)
        prepared = gridsetup.prepare(grid, request.config_path, None)
        gridsetup.check_stacks(grid, prepared)
        threads = gridsetup.threads(grid, prepared)
        setup = gridsetup.describe(grid, prepared, device, threads, request.kind, session)
    phases.mark("data")
    threads = gridsetup.threads_record(threads)
    return grid, prepared, diagnostics, device, threads, setup, tracking


def _check_same_data(ranks: Ranks, prepared: dict, source: Path) -> None:
    """Under torchrun, refuse a rank whose data is not the leader's (another machine's files)."""
    if not ranks.distributed:
        return
    mine = {key: data.fingerprint() for key, data in prepared.items()}
    if broadcast(ranks, mine) != mine:
        raise UsageError(
            f"{source}: this process's data differs from rank 0's: every machine of a launch"
            " needs the same config and data files"
        )


def shown_grid(grid: Grid) -> dict:
    """run.json's `grid`: what a grid varies, for the user to read and a resume to check."""
    spec = grid.spec
    return {"vary": spec.vary, "seeds": spec.n_seeds, "sequential": spec.sequential}

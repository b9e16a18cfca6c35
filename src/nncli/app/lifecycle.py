"""What every training command shares: build (or rebuild) a grid, check and prepare its data,
claim its run folder, and train its stacks inside the folder's lifecycle."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from nncli.app import setup as gridsetup
from nncli.app.outputs import HistoryLog
from nncli.data.prepared import PreparedData
from nncli.errors import PeerFailed, UsageError
from nncli.grid.run import train_grid
from nncli.grid.spec import Grid, GridSpec, build_grid, data_key, grid_from_spec
from nncli.grid.split import SplitProgress, survey, train_grid_split
from nncli.interrupts import StopRequest
from nncli.model.card import ModelCard
from nncli.runs import layout as runs
from nncli.runs.checkpoint import save_checkpoint
from nncli.runs.folder import Follower, RunFolder, Saved
from nncli.runs.layout import RunKind
from nncli.train.parallel import DataParallel, Ranks, agree, broadcast

Info = Callable[[str], None]


@dataclass(frozen=True)
class GridRequest:
    """What to train: a config file, its overrides and what to vary; or a folder to resume.

    None means "not given": with `resume`, the folder's own settings apply and giving any other
    option is an error; without it, the defaults below apply.
    """

    kind: RunKind  # names the folder and the resume command, and says how it trains
    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    vary: list[str] = field(default_factory=list)
    n_seeds: int | None = None  # default 1
    sequential: bool | None = None  # default False
    diagnostics: bool | None = None  # default False
    out: Path | None = None
    resume: Path | None = None
    ranks: Ranks = field(default_factory=Ranks.single)  # its place in a torchrun launch


@dataclass
class GridRun:
    folder: RunFolder
    grid: Grid
    prepared: dict[str, PreparedData]
    fits: list
    diagnostics: bool
    device: str  # where it trained: "cpu", "cuda:0"; several stacks' devices joined by ", "
    leader: bool = True  # False on the other ranks of a torchrun launch: they write nothing


@dataclass
class _Ready:
    """A grid checked, its data prepared and its folder claimed (or reopened): ready to train."""

    folder: RunFolder | Follower
    grid: Grid
    prepared: dict[str, PreparedData]
    device: str
    diagnostics: bool
    saved: Saved | None = None  # what a resumed run continues from
    split: SplitProgress | None = None  # a sweep split across the processes of a launch


@contextmanager
def grid_run(
    request: GridRequest,
    *,
    should_stop: StopRequest | None = None,
    on_epoch: Callable | None = None,
    on_info: Info | None = None,
    on_warning: Info | None = None,
    on_stack: Callable[[int, int], None] | None = None,
) -> Iterator[GridRun]:
    """Build (or rebuild) the grid, prepare its data, claim the folder, train every stack.

    Everything that can be wrong with the input is found before a folder is created; the body
    of the `with` writes the outputs inside the folder's lifecycle. Under torchrun every rank
    does the same, and goes on only when every rank did: the leader alone reports, claims and
    writes the folder (see `distributed`).
    """
    ranks = request.ranks
    leader = ranks.leader
    if not leader:  # the leader reports for every rank
        on_epoch = on_info = on_warning = on_stack = None
    if request.resume is None:
        ready = _start(request, should_stop, on_info, on_warning)
    else:
        ready = _restart(request, should_stop, on_info, on_warning)
    folder, grid, prepared, saved = ready.folder, ready.grid, ready.prepared, ready.saved
    with folder:
        if leader:
            _keep_best_weights(folder, grid, prepared)
            on_epoch = _log_history(folder, saved, on_epoch)
        callbacks = {"should_stop": should_stop, "on_stack": on_stack, "on_epoch": on_epoch}
        if ready.split is not None:  # its models split across the launch's processes
            fits = train_grid_split(grid, prepared, folder, ranks, ready.split,
                                    resuming=saved is not None, diagnostics=ready.diagnostics,
                                    **callbacks)  # fmt: skip
        else:
            group = DataParallel(ranks) if ranks.distributed else None
            fits = train_grid(grid, prepared, folder, saved=saved, diagnostics=ready.diagnostics,
                              group=group, **callbacks)  # fmt: skip
        yield GridRun(folder, grid, prepared, fits, ready.diagnostics, ready.device, leader)


def _start(
    request: GridRequest, should_stop: StopRequest | None, on_info: Info | None, on_warning
) -> _Ready:
    """A new run: its grid and data checked on every rank, then its folder claimed."""
    ranks = request.ranks
    leader = ranks.leader
    if request.config_path is None:
        raise UsageError("give a config file, or --resume FOLDER")
    grid, prepared, diagnostics, device, threads, setup = _together(
        ranks, lambda: _fresh_grid(request, on_info, on_warning)
    )
    _together(ranks, lambda: gridsetup.check_same_data(ranks, prepared, request.config_path))
    info = {
        "kind": request.kind.name,
        "config": grid.base.model_dump(mode="json"),
        "data": {key: data.fingerprint() for key, data in prepared.items()},
        "grid": asdict(grid.spec),
        "diagnostics": diagnostics,
        "processes": ranks.world,
    }
    try:
        folder = Follower(request.kind, should_stop)
        if leader:
            folder = RunFolder.create(
                grid.base,
                request.out,
                kind=request.kind,
                stop=should_stop,
                info=info,
                device=device,
                threads=gridsetup.threads_record(threads),
                **gridsetup.launch_record(ranks),
                setup=setup,
            )
    except Exception as exc:
        agree(ranks, exc)
        raise
    try:
        agree(ranks, None)
    except PeerFailed:  # another process died while the leader claimed: nothing trained
        if leader:
            folder.abandon("another process of the launch stopped before training")
        raise
    split = None
    if ranks.distributed and not request.kind.data_parallel:
        split = survey(grid, ranks.world)
    return _Ready(folder, grid, prepared, device, diagnostics, split=split)


def _restart(
    request: GridRequest, should_stop: StopRequest | None, on_info: Info | None, on_warning
) -> _Ready:
    """A run to resume: its folder reopened by the leader, what it saved shared with every
    rank, its grid and data rebuilt and checked against the first run's."""
    ranks = request.ranks
    leader = ranks.leader
    path = request.resume
    given = [request.config_path, request.out, *request.overrides, *request.vary]
    given += [request.n_seeds, request.sequential, request.diagnostics]

    def reopen() -> tuple[RunFolder, Saved] | None:
        if any(option not in (None, False) for option in given) or request.overrides:
            raise UsageError("--resume takes only the run folder: it holds the config and settings")
        if not leader:
            return None
        opened, _, saved = RunFolder.reopen(path, kind=request.kind, stop=should_stop)
        if ranks.distributed and not request.kind.data_parallel and saved.state is not None:
            opened.release()
            raise UsageError(
                f"{path}: this {request.kind.name} ran in one process; resume it without torchrun"
            )
        return opened, saved

    reopened = _together(ranks, reopen)
    folder = reopened[0] if reopened is not None else Follower(request.kind, should_stop)
    try:
        saved = broadcast(ranks, reopened[1] if reopened is not None else None)
        folder.info = saved.info

        def rebuild():
            spec = GridSpec(**saved.info["grid"])
            grid = grid_from_spec(spec, require_vary=False, flag=request.kind.vary_flag)
            gridsetup.check_same_batch(grid, saved.info, ranks, path)
            device = gridsetup.devices(grid)  # `auto` may choose another device than before
            prepared = gridsetup.prepare(grid, path, saved.info.get("data"))
            threads = gridsetup.threads(grid, prepared)  # `auto` counts the cores anew
            kind = request.kind
            gridsetup.describe(grid, prepared, device, threads, kind, ranks, on_info, on_warning)
            return grid, prepared, device, threads

        grid, prepared, device, threads = _together(ranks, rebuild)
        split = None
        if not request.kind.data_parallel and saved.state is None:  # split across processes
            found = _together(ranks, lambda: survey(grid, ranks.world, path) if leader else None)
            split = broadcast(ranks, found)
        if leader:
            folder.set_status(
                "running",
                pid=os.getpid(),
                device=device,
                threads=gridsetup.threads_record(threads),
                processes=ranks.world,
            )
        if on_info is not None:
            on_info(f"resuming {folder.path} at {folder.position(saved.state)}")
    except BaseException:
        if leader:
            folder.release()  # it stays as it was: interrupted, resumable
        raise
    diagnostics = bool(saved.info.get("diagnostics"))
    return _Ready(folder, grid, prepared, device, diagnostics, saved, split)


T = TypeVar("T")


def _together(ranks: Ranks, work: Callable[[], T]) -> T:
    """`work()`, on every rank of a launch: each goes on only if it succeeded on every rank
    (`distributed.agree`); alone, simply `work()`."""
    try:
        result = work()
    except Exception as exc:
        agree(ranks, exc)
        raise  # not reached: agree raised
    agree(ranks, None)
    return result


def _fresh_grid(request: GridRequest, on_info: Info | None, on_warning: Info | None):
    """A new run's grid, its prepared data, and its setup (reported)."""
    grid = build_grid(
        request.config_path,
        request.overrides,
        request.vary,
        1 if request.n_seeds is None else request.n_seeds,
        sequential=bool(request.sequential),
        require_vary=request.kind.requires_vary,
        flag=request.kind.vary_flag,
    )
    diagnostics = bool(request.diagnostics)
    device = gridsetup.devices(grid)
    prepared = gridsetup.prepare(grid, request.config_path, None)
    gridsetup.check_stacks(grid, prepared)
    threads = gridsetup.threads(grid, prepared)
    ranks = request.ranks
    setup = gridsetup.describe(
        grid, prepared, device, threads, request.kind, ranks, on_info, on_warning
    )
    return grid, prepared, diagnostics, device, threads, setup


def _keep_best_weights(folder: RunFolder, grid: Grid, prepared: dict) -> None:
    """With early stopping, a kind that keeps them (`nncli train`) keeps the best weights so
    far beside its state."""
    if not folder.kind.keeps_best:
        return
    (model,) = grid.models
    if model.config.training.early_stopping is None:
        return
    card = ModelCard.describe(model.config, prepared[data_key(model.config)])
    folder.also_save = lambda state: save_best_weights(
        folder.path / runs.BEST_FILE, card, state.best_params
    )


def _log_history(
    folder: RunFolder, saved: Saved | None, on_epoch: Callable | None
) -> Callable | None:
    """A kind that logs it live (`nncli train`) appends each epoch to history.csv as it ends (a
    sweep writes its models' histories when it finishes); a resumed run's file restarts from the
    rows its state holds."""
    if not folder.kind.live_history:
        return on_epoch
    records = saved.state.records if saved is not None else []
    log = HistoryLog(folder.path / runs.HISTORY_FILE, records[0].history if records else [])
    if on_epoch is None:
        return log

    def log_then_report(report) -> None:
        log(report)
        on_epoch(report)

    return log_then_report


def save_best_weights(path: Path, card: ModelCard, best_params: list) -> None:
    """With early stopping, the best epoch's weights so far, as a checkpoint evaluate reads."""
    from nncli.model.mlp import StackedMLP, load_parameters

    stacked = StackedMLP(card.sizes, [card.activation])
    load_parameters(stacked, best_params)
    save_checkpoint(path, stacked.member(0), card)

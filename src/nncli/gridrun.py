"""What every training command shares: build (or rebuild) a grid, check and prepare its data,
claim its run folder, and train its stacks inside the folder's lifecycle."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from nncli import report, runs
from nncli.checkpoint import ModelCard, positive_index, save_checkpoint
from nncli.data import PreparedData, prepare_data
from nncli.distributed import DataParallel, PeerFailed, Ranks, agree, broadcast
from nncli.errors import UsageError
from nncli.grid import Grid, GridSpec, build_grid, data_key, grid_from_spec
from nncli.gridsplit import survey, train_grid_split
from nncli.interrupts import StopRequest
from nncli.model import check_fits_in_memory, layer_sizes
from nncli.outputs import HistoryLog
from nncli.runfolder import Follower, RunFolder, Saved
from nncli.sweep import train_grid
from nncli.threads import stack_threads
from nncli.training import (
    batch_size_note,
    class_weights,
    device_label,
    precision_note,
    resolve_device,
)

Info = Callable[[str], None]


@dataclass(frozen=True)
class GridRequest:
    """What to train: a config file, its overrides and what to vary; or a folder to resume.

    None means "not given": with `resume`, the folder's own settings apply and giving any other
    option is an error; without it, the defaults below apply.
    """

    kind: str  # "train", "sweep" or "compare": names the folder and the resume command
    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    vary: list[str] = field(default_factory=list)
    n_seeds: int | None = None  # default 1
    sequential: bool | None = None  # default False
    diagnostics: bool | None = None  # default False
    out: Path | None = None
    resume: Path | None = None
    ranks: Ranks | None = None  # this process's place in a torchrun launch, if it is in one


@dataclass
class GridRun:
    folder: RunFolder
    grid: Grid
    prepared: dict[str, PreparedData]
    fits: list
    diagnostics: bool
    device: str  # where it trained: "cpu", "cuda:0"; several stacks' devices joined by ", "
    leader: bool = True  # False on the other ranks of a torchrun launch: they write nothing


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
    leader = ranks is None or ranks.leader
    if not leader:  # the leader reports for every rank
        on_epoch = on_info = on_warning = on_stack = None
    flag = _vary_flag(request.kind)
    saved: Saved | None = None
    if request.resume is None:
        if request.config_path is None:
            raise UsageError("give a config file, or --resume FOLDER")
        grid, prepared, diagnostics, device, threads, setup = _together(
            ranks, lambda: _fresh_grid(request, flag, on_info, on_warning)
        )
        _together(ranks, lambda: _check_same_data(ranks, prepared, request.config_path))
        info = {
            "kind": request.kind,
            "config": grid.base.model_dump(mode="json"),
            "data": {key: data.fingerprint() for key, data in prepared.items()},
            "grid": asdict(grid.spec),
            "diagnostics": diagnostics,
            "processes": 1 if ranks is None else ranks.world,
        }

        def claim() -> RunFolder | Follower:
            if not leader:
                return Follower(request.kind, should_stop)
            return RunFolder.create(
                grid.base,
                request.out,
                kind=request.kind,
                stop=should_stop,
                info=info,
                device=device,
                threads=_threads_record(threads),
                **_launch_record(ranks),
                setup=setup,
            )

        try:
            folder = claim()
        except Exception as exc:
            agree(ranks, exc)
            raise
        try:
            agree(ranks, None)
        except PeerFailed:  # another process died while the leader claimed: nothing trained
            if leader:
                folder.abandon("another process of the launch stopped before training")
            raise
    else:
        given = [request.config_path, request.out, *request.overrides, *request.vary]
        given += [request.n_seeds, request.sequential, request.diagnostics]

        def reopen() -> tuple[RunFolder, Saved] | None:
            if any(option not in (None, False) for option in given) or request.overrides:
                raise UsageError(
                    "--resume takes only the run folder: it holds the config and settings"
                )
            if not leader:
                return None
            opened, _, saved = RunFolder.reopen(request.resume, kind=request.kind, stop=should_stop)
            if ranks is not None and request.kind != "train" and saved.state is not None:
                opened.release()
                raise UsageError(
                    f"{request.resume}: this {request.kind} ran in one process; resume it"
                    " without torchrun"
                )
            return opened, saved

        reopened = _together(ranks, reopen)
        folder = reopened[0] if reopened is not None else Follower(request.kind, should_stop)
        try:
            saved = broadcast(ranks, reopened[1] if reopened is not None else None)
            folder.info = saved.info
            path = request.resume

            def rebuild():
                grid = grid_from_spec(GridSpec(**saved.info["grid"]), require_vary=False, flag=flag)
                _check_same_batch(grid, saved.info, ranks, path)
                device = _devices(grid)  # `auto` may choose another device than the first run's
                prepared = _prepare(grid, path, saved.info.get("data"))
                threads = _threads(grid, prepared)  # `auto` counts this machine's cores anew
                _describe(grid, prepared, device, threads, request.kind, ranks, on_info, on_warning)
                return grid, prepared, device, threads

            grid, prepared, device, threads = _together(ranks, rebuild)
            if request.kind != "train" and saved.state is None:  # a sweep split across ranks
                world = 1 if ranks is None else ranks.world
                found = _together(ranks, lambda: survey(grid, world, path) if leader else None)
                progress = broadcast(ranks, found)
            diagnostics = bool(saved.info.get("diagnostics"))
            if leader:
                folder.set_status(
                    "running",
                    pid=os.getpid(),
                    device=device,
                    threads=_threads_record(threads),
                    processes=1 if ranks is None else ranks.world,
                )
            if on_info is not None:
                on_info(f"resuming {folder.path} at {folder.position(saved.state)}")
        except BaseException:
            if leader:
                folder.release()  # it stays as it was: interrupted, resumable
            raise
    with folder:
        if leader:
            _keep_best_weights(folder, grid, prepared)
            on_epoch = _log_history(folder, saved, on_epoch)
        if request.kind != "train" and (ranks is not None or (saved and saved.state is None)):
            if saved is None:
                progress = survey(grid, ranks.world)
            fits = train_grid_split(  # its models split across the launch's processes
                grid,
                prepared,
                folder,
                ranks,
                progress,
                resuming=saved is not None,
                diagnostics=diagnostics,
                should_stop=should_stop,
                on_stack=on_stack,
                on_epoch=on_epoch,
            )
        else:
            fits = train_grid(
                grid,
                prepared,
                folder,
                saved=saved,
                diagnostics=diagnostics,
                should_stop=should_stop,
                on_stack=on_stack,
                on_epoch=on_epoch,
                group=DataParallel(ranks) if ranks is not None else None,
            )
        yield GridRun(folder, grid, prepared, fits, diagnostics, device, leader)


T = TypeVar("T")


def _together(ranks: Ranks | None, work: Callable[[], T]) -> T:
    """`work()`, on every rank of a launch: each goes on only if it succeeded on every rank
    (`distributed.agree`); alone, simply `work()`."""
    try:
        result = work()
    except Exception as exc:
        agree(ranks, exc)
        raise  # not reached: agree raised
    agree(ranks, None)
    return result


def _fresh_grid(request: GridRequest, flag: str, on_info: Info | None, on_warning: Info | None):
    """A new run's grid, its prepared data, and its setup (reported)."""
    grid = build_grid(
        request.config_path,
        request.overrides,
        request.vary,
        1 if request.n_seeds is None else request.n_seeds,
        sequential=bool(request.sequential),
        require_vary=request.kind == "sweep",
        flag=flag,
    )
    diagnostics = bool(request.diagnostics)
    device = _devices(grid)
    prepared = _prepare(grid, request.config_path, None)
    _check_stacks(grid, prepared)
    threads = _threads(grid, prepared)
    ranks = request.ranks
    setup = _describe(grid, prepared, device, threads, request.kind, ranks, on_info, on_warning)
    return grid, prepared, diagnostics, device, threads, setup


def _check_same_data(ranks: Ranks | None, prepared: dict, source: Path) -> None:
    """Under torchrun, refuse a rank whose data is not the leader's (another machine's files)."""
    if ranks is None:
        return
    mine = {key: data.fingerprint() for key, data in prepared.items()}
    if broadcast(ranks, mine) != mine:
        raise UsageError(
            f"{source}: this process's data differs from rank 0's: every machine of a launch"
            " needs the same config and data files"
        )


def _check_same_batch(grid: Grid, info: dict, ranks: Ranks | None, path: Path) -> None:
    """A data-parallel run whose batch is per process continues on as many processes: on any
    other number its batches, and so its training, would change."""
    before, now = info.get("processes", 1), 1 if ranks is None else ranks.world
    config = grid.models[0].config
    if info.get("kind") == "train" and config.training.batch_scope == "process" and before != now:
        raise UsageError(
            f"{path}: its batch is training.batch_size per process (training.batch_scope:"
            f" process) and it trained on {before} process(es); resume it on {before}"
        )


def _launch_record(ranks: Ranks | None) -> dict:
    """run.json's `processes`: how many ranks trained (absent for one process)."""
    return {} if ranks is None else {"processes": ranks.world}


def _vary_flag(kind: str) -> str:
    return "--activations" if kind == "compare" else "--vary"


def _keep_best_weights(folder: RunFolder, grid: Grid, prepared: dict) -> None:
    """With early stopping, `nncli train` keeps the best weights so far beside its state."""
    if folder.kind != "train":
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
    """`nncli train` appends each epoch to history.csv as it ends (a sweep writes its models'
    histories when it finishes); a resumed run's file restarts from the rows its state holds."""
    if folder.kind != "train":
        return on_epoch
    records = saved.state.records if saved is not None else []
    log = HistoryLog(folder.path / runs.HISTORY_FILE, records[0].history if records else [])
    if on_epoch is None:
        return log

    def log_then_report(report) -> None:
        log(report)
        on_epoch(report)

    return log_then_report


def _check_stacks(grid: Grid, prepared: dict[str, PreparedData]) -> None:
    """Refuse, before a folder is claimed, a stack too large to train in this machine's memory,
    or class weights that do not fit its data."""

    for stack in grid.stacks:
        config = grid.models[stack[0]].config
        data = prepared[data_key(config)]
        sizes = layer_sizes(data.n_features, config.model.widths, data.n_outputs)
        check_fits_in_memory(sizes, n_models=len(stack))
        class_weights(config, data)
        if config.data.positive_class is not None:
            positive_index(config.data.positive_class, data.dataset.classes)


def _prepare(grid: Grid, source: Path, fingerprints: dict | None) -> dict[str, PreparedData]:
    """Each distinct data section of the grid, loaded and split once; a resumed run's must match."""
    prepared = {}
    for model in grid.models:
        key = data_key(model.config)
        if key in prepared:
            continue
        try:
            prepared[key] = prepare_data(model.config.data)
        except UsageError as exc:
            raise UsageError(f"{source}: {exc}") from None
        if fingerprints is not None and fingerprints.get(key) != prepared[key].fingerprint():
            raise UsageError(f"{source}: the data no longer matches what this run trained on")
    return prepared


def _devices(grid: Grid) -> str:
    """The device(s) the grid's `training.device` resolve to; one that is not there is refused
    before anything is prepared."""
    return ", ".join(
        dict.fromkeys(str(resolve_device(m.config.training.device)) for m in grid.models)
    )


def _threads(grid: Grid, prepared: dict[str, PreparedData]) -> list[int]:
    """The torch threads each stack trains with, in training order."""
    firsts = [grid.models[stack[0]].config for stack in grid.stacks]
    return [
        stack_threads(config, prepared[data_key(config)], len(stack))
        for config, stack in zip(firsts, grid.stacks, strict=True)
    ]


def _threads_record(threads: list[int]) -> int | list[int]:
    """run.json's `threads`: the count, or each stack's where they differ."""
    return threads[0] if len(set(threads)) == 1 else threads


def _threads_label(threads: list[int], device: str) -> str:
    """`1 thread`, `2 threads`, `1 or 2 threads by stack`; `CPU threads` beside a GPU."""
    counts = sorted(set(threads))
    noun = "thread" if device == "cpu" else "CPU thread"
    shown = f"{' or '.join(map(str, counts))} {noun}{'' if counts == [1] else 's'}"
    return shown + (" by stack" if len(counts) > 1 else "")


def _describe(
    grid: Grid,
    prepared: dict,
    device: str,
    threads: list[int],
    kind: str,
    ranks: Ranks | None,
    on_info: Info | None,
    on_warning: Info | None,
) -> str:
    """Report the setup lines (and warnings) before training; return them as plain text, which
    run.json keeps for the report page."""
    from rich.text import Text

    first = grid.models[0].config
    data = prepared[data_key(first)]
    if on_warning is not None:
        notes = [batch_size_note(m.config, prepared[data_key(m.config)]) for m in grid.models]
        notes += [precision_note(m.config, device) for m in grid.models]
        if ranks is not None and kind == "train" and first.training.cuda_graphs:
            notes.append(
                "training.cuda_graphs: not used in data-parallel training (each step's"
                " all-reduce runs between processes, outside any graph)"
            )
        for note in dict.fromkeys(notes):
            if note:
                on_warning(note)
    shown = device_label(device)
    precisions = {m.config.training.precision for m in grid.models} - {"fp32"}
    if not device.startswith("cuda"):
        precisions.discard("tf32")  # the warning above says so
    precisions = sorted(precisions)
    if precisions:
        shown += f" in {'/'.join(precisions)}"
    shown += f", {_threads_label(threads, device)}"
    if ranks is not None:
        shown += f", {ranks.world} processes (torchrun)"
    if kind == "train":
        processes = 1 if ranks is None else ranks.world
        lines = [report.describe_setup(first, data, device=shown, processes=processes)]
    else:
        data_varied = any(key.startswith("data.") for key in grid.varied)
        n_train = None if data_varied else len(data.raw["train"][1])
        lines = [
            report.describe_setup(first, data, varied=grid.varied, device=shown),
            report.describe_grid(grid, n_train=n_train),
        ]
        if ranks is not None:
            lines.append(
                f"split across {ranks.world} processes: each trains parts of the stacks (two"
                " models or more each) on its own; progress shows rank 0's"
            )
    if on_info is not None:
        for line in lines:
            on_info(line)
    return "\n".join(Text.from_markup(line).plain for line in lines)


def save_best_weights(path: Path, card: ModelCard, best_params: list) -> None:
    """With early stopping, the best epoch's weights so far, as a checkpoint evaluate reads."""
    from nncli.model import StackedMLP, load_parameters

    stacked = StackedMLP(card.sizes, [card.activation])
    load_parameters(stacked, best_params)
    save_checkpoint(path, stacked.member(0), card)

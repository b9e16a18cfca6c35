"""What every training command shares: build (or rebuild) a grid, check and prepare its data,
claim its run folder, and train its stacks inside the folder's lifecycle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from nncli.app.outputs import HistoryLog
from nncli.app.request import GridRequest
from nncli.app.resume import restart
from nncli.app.start import start
from nncli.data.prepared import PreparedData
from nncli.grid.run import train_grid
from nncli.grid.session import Session
from nncli.grid.spec import Grid, data_key
from nncli.grid.split import train_grid_split
from nncli.model.card import ModelCard
from nncli.runs import layout as runs
from nncli.runs.checkpoint import save_checkpoint
from nncli.runs.folder import RunFolder, Saved


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
def grid_run(request: GridRequest, session: Session) -> Iterator[GridRun]:
    """Build (or rebuild) the grid, prepare its data, claim the folder, train every stack.

    Everything that can be wrong with the input is found before a folder is created; the body
    of the `with` writes the outputs inside the folder's lifecycle. Under torchrun every rank
    does the same, and goes on only when every rank did: the leader alone reports, claims and
    writes the folder (see `train.parallel`).
    """
    session = session.for_this_rank()
    ready = start(request, session) if request.resume is None else restart(request, session)
    folder, grid, prepared, saved = ready.folder, ready.grid, ready.prepared, ready.saved
    leader = session.ranks.leader
    with folder:
        if leader:
            _keep_best_weights(folder, grid, prepared)
            session = replace(session, on_epoch=_log_history(folder, saved, session.on_epoch))
        if ready.split is not None:  # its models split across the launch's processes
            resuming = saved is not None
            fits = train_grid_split(grid, prepared, folder, session, ready.split,
                                    resuming=resuming, diagnostics=ready.diagnostics)  # fmt: skip
        else:
            fits = train_grid(grid, prepared, folder, session, saved=saved,
                              diagnostics=ready.diagnostics)  # fmt: skip
        yield GridRun(folder, grid, prepared, fits, ready.diagnostics, ready.device, leader)


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

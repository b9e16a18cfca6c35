"""Training a grid made ready, in its run folder: the hooks its kind asks for, then its stacks,
in one process or split across a launch's. The one module of app/ that imports torch's
training machinery, once the grid is valid and its data read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from nncli.app.outputs import HistoryLog
from nncli.app.request import Ready
from nncli.grid.run import train_grid
from nncli.grid.session import Session
from nncli.grid.spec import Grid, data_key
from nncli.grid.split import train_grid_split
from nncli.model.card import ModelCard
from nncli.runs import layout as runs
from nncli.runs.checkpoint import save_checkpoint
from nncli.runs.folder import RunFolder
from nncli.runs.resumable import Saved


def train(ready: Ready, session: Session) -> list:
    """Every model of the grid trained into its folder; one ModelFit per model on the leader."""
    folder, grid, prepared, saved = ready.folder, ready.grid, ready.prepared, ready.saved
    if session.ranks.leader:
        _keep_best_weights(folder, grid, prepared)
        session = replace(session, on_epoch=_log_history(folder, saved, session.on_epoch))
    if ready.tracking is not None:
        session = replace(session, on_rows=ready.tracking.rows)
    if ready.split is not None:  # its models split across the launch's processes
        resuming = saved is not None
        return train_grid_split(grid, prepared, folder, session, ready.split, resuming=resuming,
                                diagnostics=ready.diagnostics)  # fmt: skip
    return train_grid(grid, prepared, folder, session, saved=saved, diagnostics=ready.diagnostics)


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

"""The library behind each command that trains: train, sweep and compare-activations.

Each is one grid of models (train's has one model) trained by `lifecycle.grid_run` in a
`RunFolder`; they differ only in their `RunKind`, the grid they build and the files they write.
Each returns a typed result (grid/results.py); the session's callbacks report progress, and
nothing here prints.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from nncli import phases
from nncli.app.lifecycle import grid_run
from nncli.app.outputs import Outputs, flat_row, write_grid_outputs, write_train_outputs
from nncli.app.request import GridRequest
from nncli.config.keys import variant_label
from nncli.errors import RunFailedError, UsageError
from nncli.grid.results import GridResult, TrainResult
from nncli.grid.session import Session
from nncli.grid.spec import data_key
from nncli.grid.summary import (
    all_failed,
    choose,
    model_diagnostics,
    not_learned,
    stack_times,
    summarize,
)
from nncli.report.describe import loss_kind
from nncli.report.gradients import step_note
from nncli.runs import layout as runs
from nncli.runs.layout import COMPARE, PARTIAL_DIR, SWEEP, TRAIN
from nncli.tasks import TASKS

if TYPE_CHECKING:
    from nncli.config.schema import Config
    from nncli.data.prepared import PreparedData


def run_train(
    config_path: Path | None,
    overrides: list[str],
    *,
    out: Path | None = None,
    resume: Path | None = None,
    session: Session | None = None,
    diagnostics: bool | None = None,
) -> TrainResult | None:
    """Train the one model a config describes (or `resume` a run folder); return its result.

    `diagnostics` also measures each layer's first-epoch gradient and the dead and saturated
    units. On a stop request the run is saved resumable and `Interrupted` is raised. Under
    torchrun (`session.ranks`) every rank trains its shard of each batch; the leader returns
    the result, the others None.
    """
    request = GridRequest(TRAIN, config_path, overrides, out=out, resume=resume,
                          diagnostics=diagnostics)  # fmt: skip
    session = session or Session()
    with grid_run(request, session) as run:
        if not run.leader:
            return None
        (model,) = run.fits
        config, prepared = model.config, run.prepared[data_key(model.config)]
        if model.record.diverged is not None:
            epoch, step = model.record.diverged
            raise RunFailedError(
                f"training diverged: the loss became non-finite at epoch {epoch}, step {step};"
                f" try a smaller training.lr (now {config.training.lr:g})"
                + (
                    f" or training.weight_decay (now {config.training.weight_decay:g})"
                    if config.training.weight_decay * config.training.lr >= 1
                    else ""
                )
            )
        frozen = step_note(config.model.activation, config.model.depth)
        warnings = [w for w in (frozen, model.baseline_warning()) if w is not None]
        for warning in warnings:
            session.warn(warning)
        result = TrainResult(
            run_dir=run.folder.path,
            task=prepared.task,
            device=run.device,
            classes=prepared.dataset.classes if TASKS[prepared.task].classes else None,
            epochs_run=model.record.epochs_run,
            best_epoch=model.record.best_epoch,
            kept_epoch=model.record.kept_epoch,
            monitor="val_loss" if "val" in prepared.raw else "train_loss",
            metrics=model.metrics,
            epochs=config.training.epochs,
            early_stopping=config.training.early_stopping is not None,
            positive_class=_positive(config, prepared),
            loss_kind=loss_kind(config, prepared.task),
            class_order=config.data.class_order,
            baseline=model.baseline,
            headline=model.headline,
            diagnostics=model_diagnostics(model) if run.diagnostics else None,
            warnings=warnings,
        )
        run.folder.set_status("running", warnings=warnings)  # before report.html reads it
        out = Outputs(run.folder.path, session.should_stop)
        write_train_outputs(out, config, prepared, model, result.summary(), session.figures)
        phases.mark("report")
        out(runs.RUN_FILE)  # the last to write: a stop asked for by now leaves it interrupted
        (run.folder.path / runs.BEST_FILE).unlink(missing_ok=True)  # model.safetensors has them
        run.folder.finish(epochs_run=model.record.epochs_run)
    return result


def run_sweep(
    config_path: Path | None,
    overrides: list[str],
    *,
    vary: list[str] | None = None,
    n_seeds: int | None = None,
    sequential: bool | None = None,
    diagnostics: bool | None = None,
    out: Path | None = None,
    resume: Path | None = None,
    session: Session | None = None,
    max_models: int | None = None,
) -> GridResult | None:
    """Train every variant x seed of a grid; write the sweep folder; return its result.

    The exit is a `RunFailedError` only when every variant diverged on every seed. Under
    torchrun (`session.ranks`) the models are split across the ranks (grid/split.py); the
    leader returns the result, the others None.
    """
    request = GridRequest(SWEEP, config_path, overrides, vary or [], n_seeds, sequential,
                          diagnostics, out, resume, max_models)  # fmt: skip
    return _run_grid_command(request, session or Session())


def run_compare(
    config_path: Path | None,
    overrides: list[str],
    *,
    activations: list[str] | None = None,
    n_seeds: int | None = None,
    sequential: bool | None = None,
    out: Path | None = None,
    resume: Path | None = None,
    session: Session | None = None,
    max_models: int | None = None,
) -> GridResult | None:
    """The sweep of `model.activation` with diagnostics: every activation (default: all) x seed
    (default: 3), side by side; its summary names each record by its activation."""
    from nncli.config.schema import ACTIVATION_NAMES

    vary = []
    if resume is None:
        names = list(ACTIVATION_NAMES) if activations is None else activations
        if not names:
            raise UsageError("--activations: give at least one, e.g. sigmoid,relu")
        vary = [f"model.activation={','.join(names)}"]
        n_seeds = 3 if n_seeds is None else n_seeds
    elif activations is not None:
        raise UsageError("--resume takes only the run folder: it holds the config and settings")
    diagnostics = None if resume else True  # always on: the comparison's reason to be
    request = GridRequest(COMPARE, config_path, overrides, vary, n_seeds, sequential,
                          diagnostics, out, resume, max_models)  # fmt: skip
    return _run_grid_command(request, session or Session())


def _run_grid_command(request: GridRequest, session: Session) -> GridResult | None:
    with grid_run(request, session) as run:
        if not run.leader:
            return None
        grid = run.grid
        results = summarize(grid, run.fits, diagnostics=run.diagnostics)
        best = choose(results, run.fits)
        kind = request.kind
        labels = [r["values"][kind.varies] if kind.varies else variant_label(r["values"])
                  for r in results]  # fmt: skip
        warnings = [w for w in [not_learned(results, labels, best)] if w is not None]
        for warning in warnings:
            session.warn(warning)
        prepared = run.prepared[data_key(grid.models[0].config)]
        if kind.varies is not None:  # its contract: records named by the key it varies
            name = kind.record_key
            shown = [
                {name: r["values"][kind.varies]} | {k: v for k, v in r.items() if k != "values"}
                for r in results
            ]
            rows = [flat_row({name: r[name]}, r) for r in shown]
        else:
            shown, rows = results, [flat_row(r["values"], r) for r in results]
        positive = _positive(grid.base, prepared)
        result = GridResult(kind, run.folder.path, prepared.task, run.device, grid.varied, shown,
                            stack_times(grid, run.fits), positive,
                            loss_kind(grid.base, prepared.task), best, warnings)  # fmt: skip
        config = grid.base
        # A width is no depth-0 model's: say it only where every model has hidden layers.
        shaped = all(m.config.model.depth > 0 for m in grid.models)
        shape = [f"{key} {getattr(config.model, key)}" for key in ("depth", "width")
                 if f"model.{key}" not in grid.varied and (shaped or key == "depth")]  # fmt: skip
        title = ", ".join([config.name or "run", *shape]).replace(", ", ": ", 1)
        run.folder.set_status("running", warnings=warnings)  # before report.html reads it
        out = Outputs(run.folder.path, session.should_stop)
        write_grid_outputs(
            out,
            grid,
            prepared,
            run.fits,
            results,
            result.to_json(),
            rows=rows,
            title=title,
            diagnostics=run.diagnostics,
            drawer=session.figures,
        )
        phases.mark("report")
        if all_failed(results):  # nothing to resume: the partial models are in the results
            shutil.rmtree(run.folder.path / PARTIAL_DIR, ignore_errors=True)
            raise RunFailedError(
                f"every variant diverged on every seed; the results are in {run.folder.path}"
            )
        out(runs.RUN_FILE)  # the last to write: a stop asked for by now leaves it interrupted
        run.folder.finish()
    shutil.rmtree(run.folder.path / PARTIAL_DIR, ignore_errors=True)  # finished: not needed
    return result


def _positive(config: Config, prepared: PreparedData) -> object:
    """The class a binary task's outputs name as positive (None for other tasks)."""
    from nncli.model.card import positive_name  # imports torch: only once training is done

    return positive_name(config.data.positive_class, prepared.dataset.classes)

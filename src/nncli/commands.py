"""The library behind each CLI command: keyword arguments in, plain data out, no printing."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

from nncli.config import Config, dump_config, load_config
from nncli.engine import EpochReport
from nncli.errors import ConfigError, Interrupted, NncliError, RunFailedError, UsageError
from nncli.interrupts import StopRequest
from nncli.resume import (
    ThrottledSaver,
    open_resumable,
    save_best_checkpoint,
    save_training_state,
)


def load_resolved(config_path: Path, overrides: list[str]) -> Config:
    """Load, validate and resolve a config; data-dependent problems name the config file."""
    config = load_config(config_path, overrides)
    from nncli.training import resolve_config

    try:
        return resolve_config(config)
    except ConfigError:
        raise
    except UsageError as exc:
        raise UsageError(f"{config_path}: {exc}") from None


def resolved_config_yaml(config_path: Path, overrides: list[str]) -> str:
    return dump_config(load_resolved(config_path, overrides))


def run_train(
    config_path: Path | None,
    overrides: list[str],
    *,
    out: Path | None = None,
    resume: Path | None = None,
    should_stop: StopRequest | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_info: Callable[[str], None] | None = None,
) -> dict:
    """Train from a config file, or `resume` an interrupted run folder; return the summary.

    On a stop request the run is saved resumable and `Interrupted` is raised.
    """
    from nncli import runs

    if resume is not None:
        if config_path is not None or overrides or out is not None:
            raise UsageError("--resume takes only the run folder: its config.yaml is the config")
        run_dir, config, saved = open_resumable(Path(resume))
    else:
        if config_path is None:
            raise UsageError("give a config file, or --resume RUN_DIR")
        config = load_resolved(config_path, overrides)
        saved = None
    prepared, fingerprint = _prepare(config, config_path or resume, saved)
    if on_info is not None:
        on_info(describe_setup(config, prepared))
        if saved is not None:
            on_info(f"resuming {run_dir} at epoch {saved[0].epoch}, step {saved[0].step}")
    if saved is None:
        run_dir = runs.create_run_dir(config, out)
        runs.write_config(run_dir, config)
    runs.write_status(run_dir, "running", pid=os.getpid())
    info = {"kind": "train", "activations": [config.model.activation], "seeds": [config.seed],
            "config": config.model_dump(mode="json"), "data": fingerprint}  # fmt: skip
    return _train_into(run_dir, config, prepared, info, saved, should_stop, on_epoch, on_info)


def _prepare(config: Config, source: Path | None, saved: tuple | None) -> tuple:
    """The config's data, split and scaled, and its fingerprint; a resumed run's must match."""
    from nncli.training import data_fingerprint, prepare_data, resolve_device

    resolve_device(config.training.device)
    try:
        prepared = prepare_data(config)
    except UsageError as exc:
        raise UsageError(f"{source}: {exc}") from None
    fingerprint = data_fingerprint(prepared)
    if saved is not None and saved[2].get("data") != fingerprint:
        raise UsageError(f"{source}: the data no longer matches what this run trained on")
    return prepared, fingerprint


def _train_into(run_dir, config, prepared, info, saved, should_stop, on_epoch, on_info) -> dict:
    from nncli import runs
    from nncli.checkpoint import save_checkpoint
    from nncli.training import model_card, stacked_sizes, train_model

    last, best = run_dir / runs.LAST_STATE_FILE, run_dir / runs.BEST_FILE
    card = model_card(config, prepared, stacked_sizes(config, prepared))

    def save_state(state, params) -> None:
        save_training_state(last, state, params, info)
        if config.training.early_stopping is not None:
            save_best_checkpoint(best, state.best_params, card)

    saver = ThrottledSaver(save_state)
    try:
        outcome = train_model(
            config,
            prepared,
            on_epoch=on_epoch,
            should_stop=should_stop,
            on_checkpoint=saver,
            resume=(saved[0], saved[1]) if saved is not None else None,
        )
    except NncliError as exc:
        if isinstance(exc, RunFailedError) and last.exists():
            exc = RunFailedError(f"{exc}; the last good state is kept in {last}")
        runs.write_status(run_dir, "failed", error=str(exc))
        raise exc from None
    except KeyboardInterrupt:
        runs.write_status(run_dir, "interrupted", resumable=last.exists())
        raise
    except Exception as exc:  # a bug: the folder must still not claim to be running
        runs.write_status(run_dir, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    fit = outcome.fit
    if fit.stopped is not None:
        save_state(fit.stopped, list(outcome.stacked.parameters()))
        where = f"epoch {fit.stopped.epoch}, step {fit.stopped.step}"
        runs.write_status(run_dir, "interrupted", resumable=True, stopped_at=where)
        code = should_stop.exit_code if should_stop is not None else 130
        raise Interrupted(
            f"interrupted at {where}; saved {last}\nresume with: nncli train --resume {run_dir}",
            code,
        )
    summary = {
        "task": prepared.task,
        **({"classes": prepared.dataset.classes} if prepared.task == "classification" else {}),
        "epochs_run": fit.epochs_run[0],
        "best_epoch": fit.best_epoch[0],
        "kept_epoch": fit.kept_epoch[0],
        "monitor": "val_loss" if "val" in prepared.raw else "train_loss",
        "metrics": outcome.metrics,
    }
    save_checkpoint(run_dir / runs.CHECKPOINT_FILE, outcome.net, outcome.card)
    _write_run_outputs(run_dir, config, prepared, fit, summary)
    if prepared.task == "regression" and prepared.raw["train"][0].shape[1] == 1:
        from functools import partial

        from nncli.plots import plot_function_fit

        plot_function_fit(
            run_dir / runs.FIT_PLOT_FILE,
            partial(outcome.card.predict_raw, outcome.net),
            *prepared.raw["train"],
            title=config.name or "fit",
            feature=prepared.dataset.feature_names[0],
            target=prepared.dataset.target_name,
        )
    last.unlink(missing_ok=True)  # a finished run has nothing to resume,
    best.unlink(missing_ok=True)  # and its model.safetensors holds the best weights
    runs.write_status(
        run_dir, "finished", epochs_run=fit.epochs_run[0], resumable=False, stopped_at=None
    )
    if on_info is not None:
        on_info(describe_outcome(config, summary))
    return {"run_dir": str(run_dir), **summary, "warnings": outcome.warnings}


def _write_run_outputs(run_dir: Path, config: Config, prepared, fit, summary: dict) -> None:
    from nncli import runs
    from nncli.metrics import headline_metric
    from nncli.plots import plot_learning_curves

    history = fit.history[0]
    runs.write_history(run_dir, history)
    runs.write_metrics(run_dir, summary)
    loss_name = "cross-entropy loss" if prepared.task == "classification" else "MSE loss"
    if prepared.task == "regression" and prepared.target_scaler is not None:
        loss_name += " (standardized target)"
    plot_learning_curves(
        run_dir / runs.LOSS_PLOT_FILE,
        history,
        title=f"{config.name}: {config.model.activation}, depth {config.model.depth}",
        loss_name=loss_name,
        metric=headline_metric(prepared.task),
        kept_epoch=fit.kept_epoch[0],
    )


def describe_setup(config: Config, prepared) -> str:
    dataset = prepared.dataset
    counts = "/".join(str(len(prepared.raw[s][1])) for s in prepared.raw)
    kinds = "/".join(prepared.raw)
    what = f"{len(dataset.classes)} classes" if dataset.classes else "regression target"
    sizes = [len(dataset.feature_names), *config.model.widths, prepared.n_outputs]
    n_params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    t = config.training
    return (
        f"[bold]{config.name}[/]: {len(dataset.y)} rows, {len(dataset.feature_names)} features,"
        f" {what}; split {kinds} {counts} (data.seed {config.data.seed})\n"
        f"MLP {' → '.join(map(str, sizes))}, {config.model.activation}, {n_params} parameters;"
        f" SGD lr {t.lr:g}, momentum {t.momentum:g}, batch {t.batch_size}, {t.epochs} epochs,"
        f" seed {config.seed}"
    )


def describe_outcome(config: Config, summary: dict) -> str:
    monitor = summary["monitor"]
    if config.training.early_stopping is not None:
        stopped = summary["epochs_run"] < config.training.epochs
        how = f"stopped early at epoch {summary['epochs_run']}" if stopped else "ran every epoch"
        return (
            f"early stopping on {monitor} {how}; restored the best weights,"
            f" from epoch {summary['kept_epoch']}"
        )
    return (
        f"kept the final weights (epoch {summary['kept_epoch']}); lowest {monitor} was at"
        f" epoch {summary['best_epoch']}"
    )


def run_compare(
    config_path: Path | None,
    overrides: list[str],
    *,
    activations: list[str] | None = None,
    n_seeds: int = 3,
    sequential: bool = False,
    out: Path | None = None,
    resume: Path | None = None,
    should_stop: StopRequest | None = None,
    on_epoch: Callable | None = None,
    on_info: Callable[[str], None] | None = None,
) -> dict:
    """Train every activation x seed on one split; write the comparison folder; return its JSON.

    `resume` continues an interrupted (stacked) comparison folder exactly where it stopped.
    """
    from nncli import runs
    from nncli.activations import ACTIVATIONS
    from nncli.compare import StoppedEarly, compare_activations, seeds_from, summarize
    from nncli.config import unknown_name

    saved = None
    if resume is not None:
        if config_path or overrides or out or activations is not None or sequential:
            raise UsageError("--resume takes only the comparison folder: it holds the settings")
        out_dir, config, saved = open_resumable(Path(resume), kind="compare")
        names, seeds = list(dict.fromkeys(saved[2]["activations"])), saved[2]["seeds"]
        seeds = seeds[: len(seeds) // len(names)]
    else:
        if config_path is None:
            raise UsageError("give a config file, or --resume FOLDER")
        names = list(ACTIVATIONS) if activations is None else activations
        if not names:
            raise UsageError("--activations: give at least one, e.g. sigmoid,relu")
        unknown = [a for a in names if a not in ACTIVATIONS]
        if unknown:
            raise UsageError(
                f"--activations: {unknown_name('activation', unknown[0], ACTIVATIONS)}"
            )
        if len(set(names)) != len(names):
            raise UsageError("--activations: an activation is listed twice")
        if not 1 <= n_seeds <= 999:
            raise UsageError(f"--seeds: must be between 1 and 999, got {n_seeds}")
        config = load_resolved(config_path, overrides)
        seeds = seeds_from(config, n_seeds)
    prepared, fingerprint = _prepare(config, config_path or resume, saved)
    if on_info is not None:
        on_info(describe_setup(config, prepared).replace(f", {config.model.activation},", ","))
        how = "one after another" if sequential else "at once, stacked along a model axis"
        on_info(f"{len(names)} activations x {len(seeds)} seeds ({seeds}) = "
                f"{len(names) * len(seeds)} models, trained {how}")  # fmt: skip
        if config.model.depth == 0:
            on_info("[yellow]note:[/] model.depth is 0: with no hidden layer the activation is"
                    " never used, so every activation gives the same model")  # fmt: skip

    if saved is None:
        out_dir = runs.create_run_dir(config, out, kind="activations")
        runs.write_config(out_dir, config)
    runs.write_status(out_dir, "running", kind="compare", pid=os.getpid())
    info = {
        "kind": "compare",
        "activations": [a for a in names for _ in seeds],
        "seeds": [s for _ in names for s in seeds],
        "config": config.model_dump(mode="json"),
        "data": fingerprint,
    }
    last = out_dir / runs.LAST_STATE_FILE
    saver = ThrottledSaver(lambda state, params: save_training_state(last, state, params, info))
    try:
        outcomes = compare_activations(
            config, prepared, activations=names, seeds=seeds, sequential=sequential,
            on_epoch=on_epoch, should_stop=should_stop, on_checkpoint=saver,
            resume=(saved[0], saved[1]) if saved is not None else None,
        )  # fmt: skip
    except StoppedEarly as stop:
        code = should_stop.exit_code if should_stop is not None else 130
        if stop.state is None:
            runs.write_status(out_dir, "interrupted", resumable=False)
            raise Interrupted("interrupted; a --sequential comparison cannot resume: run it again",
                              code) from None  # fmt: skip
        save_training_state(last, stop.state, stop.params, info)
        where = f"epoch {stop.state.epoch}, step {stop.state.step}"
        runs.write_status(out_dir, "interrupted", resumable=True, stopped_at=where)
        raise Interrupted(
            f"interrupted at {where}; saved {last}\n"
            f"resume with: nncli compare-activations --resume {out_dir}",
            code,
        ) from None
    except KeyboardInterrupt:
        runs.write_status(out_dir, "interrupted", resumable=last.exists())
        raise
    summary = summarize(outcomes)
    result = {"out_dir": str(out_dir), "task": prepared.task, "results": summary}
    _write_comparison(out_dir, config, prepared, outcomes, summary, result)
    last.unlink(missing_ok=True)
    runs.write_status(out_dir, "finished", resumable=False, stopped_at=None)
    return result


def _write_comparison(out_dir: Path, config: Config, prepared, outcomes, summary, result) -> None:
    import csv
    import io
    from functools import partial

    from nncli import plots, runs
    from nncli.fileio import atomic_write_json, atomic_write_text

    atomic_write_json(out_dir / "summary.json", result)
    rows = [_flat_row(record) for record in summary]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out_dir / "summary.csv", buffer.getvalue())
    (out_dir / "history").mkdir(exist_ok=True)
    for o in outcomes:
        runs.write_history(out_dir / "history", o.history, name=f"{o.activation}-seed{o.seed}.csv")

    title = f"{config.name}: depth {config.model.depth}, width {config.model.width}"
    plots.plot_loss_bands(out_dir / "loss_curves.png", outcomes, title=title)
    plots.plot_grad_norms(out_dir / "grad_norms.png", summary, title=f"{title}: gradient by layer")
    plots.plot_activations(
        out_dir / "activations.png", list(dict.fromkeys(o.activation for o in outcomes))
    )
    x, y = prepared.raw["train"]
    if prepared.task == "classification" and x.shape[1] == 2:
        first_seed = [o for o in outcomes if o.seed == outcomes[0].seed]
        models = [(o.activation, partial(o.card.predict_raw, o.net)) for o in first_seed]
        plots.plot_decision_boundaries(
            out_dir / "decision_boundaries.png", models, x, y,
            title=f"{title}: decision boundaries (seed {outcomes[0].seed}, training points)",
        )  # fmt: skip


def _flat_row(record: dict) -> dict:
    row: dict = {"activation": record["activation"], "seeds": " ".join(map(str, record["seeds"]))}
    for split, metrics in record["metrics"].items():
        for name, stats in metrics.items():
            row[f"{split}_{name}_mean"], row[f"{split}_{name}_std"] = stats["mean"], stats["std"]
    for key in ("best_epoch", "grad_ratio", "dead_fraction", "saturated_fraction"):
        row[f"{key}_mean"], row[f"{key}_std"] = record[key]["mean"], record[key]["std"]
    for layer, norm in enumerate(record["grad_norms"], start=1):
        row[f"grad_norm_layer{layer}"] = norm
    row["learned"], row["diverged"] = record["learned"], record["diverged"]
    return row

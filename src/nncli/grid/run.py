"""Training a grid stack by stack, and summarizing each variant over its seeds.

A finished stack is saved in `partial/`, so an interrupted grid resumes at the stack it was in,
exactly where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

from nncli.config.schema import Config
from nncli.grid.session import Session
from nncli.grid.spec import Grid, data_key
from nncli.runs.layout import PARTIAL_DIR, stack_file
from nncli.runs.stacks import load_models, save_models


def train_grid(
    grid: Grid, prepared: dict, folder, session: Session, *, saved=None, diagnostics: bool = False
) -> list:
    """Train every stack of `grid` into `folder` (a RunFolder); one ModelFit per grid model.

    `prepared` maps `data_key(config)` to its PreparedData. `saved` resumes an interrupted grid:
    finished stacks are read back from `partial/`, the stack in progress continues from its
    state, and later ones train afresh. Under torchrun (`session.ranks`), every rank of the
    launch trains each stack data-parallel, and only the leader gets the fits.
    """
    from nncli.model.mlp import layer_sizes
    from nncli.runs.statechecks import check_state_fits
    from nncli.train.parallel import DataParallel
    from nncli.train.stack import train_stack, whole_batch

    group = DataParallel(session.ranks) if session.ranks.distributed else None

    fits: list = [None] * len(grid.models)
    resume_stack = saved.info.get("stack", 0) if saved is not None else 0
    for s, members in enumerate(grid.stacks):
        configs = [grid.models[i].config for i in members]
        data = prepared[data_key(configs[0])]
        if session.on_stack is not None:
            session.on_stack(s, len(grid.stacks))
        if s < resume_stack:
            path = folder.path / PARTIAL_DIR / stack_file(s)
            done = measure_saved(path, configs, data, diagnostics)
        else:
            folder.info |= {"stack": s, "stacks": len(grid.stacks)}
            resume = None
            if saved is not None and s == resume_stack:
                check_state_fits(
                    folder.last_state,
                    saved.state,
                    saved.params,
                    n_models=len(configs),
                    n_train=len(data.raw["train"][1]),
                    batch_size=whole_batch(configs[0], group),
                    sizes=layer_sizes(data.n_features, configs[0].model.widths, data.n_outputs),
                    epochs=configs[0].training.epochs,
                )
                resume = (saved.state, saved.params)
            start = time.perf_counter()
            done = train_stack(
                configs,
                data,
                diagnostics=diagnostics,
                on_epoch=session.epoch_hook(members),
                should_stop=session.should_stop,
                on_checkpoint=folder.checkpoint,
                resume=resume,
                group=group,
            )
            if not done:  # a rank of a launch other than the leader
                return []
            seconds = None if resume is not None else time.perf_counter() - start
            for model_fit in done:
                model_fit.stack_seconds = seconds
            if len(grid.stacks) > 1:
                (folder.path / PARTIAL_DIR).mkdir(exist_ok=True)
                save_models(folder.path / PARTIAL_DIR / stack_file(s), done)
        for i, model_fit in zip(members, done, strict=True):
            fits[i] = model_fit
    return fits


def measure_saved(path: Path, configs: list[Config], data, diagnostics: bool) -> list:
    """The models `save_models` kept for `configs`, measured as `train_stack` measures them."""
    from nncli.model.card import ModelCard
    from nncli.train.stack import class_weights, measure_stack

    nets, records, seconds = load_models(path, configs, data)
    card, weight = ModelCard.describe(configs[0], data), class_weights(configs[0], data)
    fits = measure_stack(configs, data, nets, records, card, weight, diagnostics)
    for model_fit in fits:
        model_fit.stack_seconds = seconds
    return fits

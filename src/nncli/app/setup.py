"""What a grid needs before its run folder is claimed: its devices, data and threads checked
and chosen, and the setup it reports. Importing it imports torch and pandas: `app.start` and
`app.resume` do so only once the grid is valid."""

from __future__ import annotations

from pathlib import Path

from nncli.data.prepared import PreparedData, prepare_data
from nncli.errors import UsageError
from nncli.grid.session import Session, Setup
from nncli.grid.spec import Grid, data_key
from nncli.model.card import positive_index
from nncli.model.mlp import check_fits_in_memory, layer_sizes
from nncli.report import describe as report
from nncli.report.tables import class_positions as check_class_order
from nncli.runs.layout import RunKind, run_kind
from nncli.train.choice import headline_of
from nncli.train.devices import device_label, precision_note, resolve_device
from nncli.train.parallel import Ranks
from nncli.train.stack import batch_size_note, class_weights
from nncli.train.threads import stack_threads


def check_same_batch(grid: Grid, info: dict, ranks: Ranks, path: Path) -> None:
    """A data-parallel run whose batch is per process continues on as many processes: on any
    other number its batches, and so its training, would change."""
    before, now = info.get("processes", 1), ranks.world
    config = grid.models[0].config
    kind = run_kind(info.get("kind"))
    data_parallel = kind is not None and kind.data_parallel
    if data_parallel and config.training.batch_scope == "process" and before != now:
        raise UsageError(
            f"{path}: its batch is training.batch_size per process (training.batch_scope:"
            f" process) and it trained on {before} process(es); resume it on {before}"
        )


def check_stacks(grid: Grid, prepared: dict[str, PreparedData]) -> None:
    """Refuse, before a folder is claimed, a stack too large to train in this machine's memory,
    or class weights that do not fit its data."""

    for stack in grid.stacks:
        config = grid.models[stack[0]].config
        data = prepared[data_key(config)]
        sizes = layer_sizes(data.n_features, config.model.widths, data.n_outputs)
        check_fits_in_memory(sizes, n_models=len(stack))
        class_weights(config, data)
        headline_of(config.training.headline_metric, data.task)
        if config.data.positive_class is not None:
            positive_index(config.data.positive_class, data.dataset.classes)
        if config.data.class_order is not None:
            check_class_order(config.data.class_order, data.dataset.classes)


def prepare(grid: Grid, source: Path, fingerprints: dict | None) -> dict[str, PreparedData]:
    """Each distinct data section of the grid, loaded and split once; a resumed run's must match."""
    prepared = {}
    for model in grid.models:
        key = data_key(model.config)
        if key in prepared:
            continue
        try:
            prepared[key] = prepare_data(model.config.data)
        except UsageError as exc:
            if fingerprints is not None:  # unknown data: what it holds stays out of the message
                raise UsageError(
                    f"{source}: the data this run trained on ({model.config.data.source}) can no"
                    " longer be read as it was"
                ) from None
            raise UsageError(f"{source}: {exc}") from None
        if fingerprints is not None and fingerprints.get(key) != prepared[key].fingerprint():
            raise UsageError(f"{source}: the data no longer matches what this run trained on")
    return prepared


def devices(grid: Grid) -> str:
    """The device(s) the grid's `training.device` resolve to; one that is not there is refused
    before anything is prepared."""
    names = dict.fromkeys(m.config.training.device for m in grid.models)  # each once, in order
    return ", ".join(dict.fromkeys(str(resolve_device(name)) for name in names))


def threads(grid: Grid, prepared: dict[str, PreparedData]) -> list[int]:
    """The torch threads each stack trains with, in training order."""
    firsts = [grid.models[stack[0]].config for stack in grid.stacks]
    return [
        stack_threads(config, prepared[data_key(config)], len(stack))
        for config, stack in zip(firsts, grid.stacks, strict=True)
    ]


def threads_record(threads: list[int]) -> int | list[int]:
    """run.json's `threads`: the count, or each stack's where they differ."""
    return threads[0] if len(set(threads)) == 1 else threads


def threads_label(threads: list[int], device: str) -> str:
    """`1 thread`, `2 threads`, `1 or 2 threads by stack`; `CPU threads` beside a GPU."""
    counts = sorted(set(threads))
    noun = "thread" if device == "cpu" else "CPU thread"
    shown = f"{' or '.join(map(str, counts))} {noun}{'' if counts == [1] else 's'}"
    return shown + (" by stack" if len(counts) > 1 else "")


def describe(
    grid: Grid,
    prepared: dict,
    device: str,
    threads: list[int],
    kind: RunKind,
    session: Session,
    searched: list[str] = (),
) -> str:
    """Report the setup (and warnings) before training; return it as plain text, which run.json
    keeps for the report page. `searched`: the keys a search draws (said `varied`), for a
    search described as the one model its config trains."""
    first = grid.models[0].config
    data = prepared[data_key(first)]
    ranks = session.ranks
    if session.on_warning is not None:
        notes = [warning for data in prepared.values() for warning in data.warnings]
        notes += [batch_size_note(m.config, prepared[data_key(m.config)]) for m in grid.models]
        notes += [precision_note(m.config, device) for m in grid.models]
        if ranks.distributed and kind.data_parallel and first.training.cuda_graphs:
            notes.append(
                "training.cuda_graphs: not used in data-parallel training (each step's"
                " all-reduce runs between processes, outside any graph)"
            )
        for note in dict.fromkeys(notes):
            if note:
                session.warn(note)
    shown = device_label(device)
    precisions = {m.config.training.precision for m in grid.models} - {"fp32"}
    if not device.startswith("cuda"):
        precisions.discard("tf32")  # the warning above says so
    precisions = sorted(precisions)
    if precisions:
        shown += f" in {'/'.join(precisions)}"
    shown += f", {threads_label(threads, device)}"
    processes = ranks.world
    if ranks.distributed:
        shown += f", {processes} processes (torchrun)"
    if kind.single_model:
        lines = [report.describe_setup(first, data, varied=list(searched), device=shown,
                                       processes=processes)]  # fmt: skip
    else:
        data_varied = any(key.startswith("data.") for key in grid.varied)
        n_train = None if data_varied else len(data.raw["train"][1])
        lines = [
            report.describe_setup(first, data, varied=grid.varied, device=shown),
            report.describe_grid(grid, n_train=n_train, processes=processes),
        ]
    setup = Setup(str(first.name), lines)
    if session.on_setup is not None:
        session.on_setup(setup)
    return setup.text

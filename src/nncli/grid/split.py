"""A sweep's models split across the processes of a torchrun launch.

The grid's stacks are cut into parts (a stack of n models into at most n // 2 parts of two or
more, so a part trains the same kernels, and the same bits, as its stack would: see
`losses.softmax`), and the parts are dealt to the ranks, largest first to the least loaded.
They train in rounds: each rank trains its next part, then the leader gathers the round's
models (or, after a stop request, their resumable states) and keeps them in `partial/`. The
leader ends with every model, and writes the one summary a single process would.

The parts are fixed when the sweep starts (`partial/units.json`), not by the number of
processes, so `--resume` continues on any number of them, alone included.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from nncli.errors import DamagedFileError, UsageError
from nncli.fileio import atomic_write_json
from nncli.grid.session import Session
from nncli.grid.spec import Grid, data_key
from nncli.runs.history import history_path
from nncli.runs.layout import PARTIAL_DIR, UNITS_FILE, part_file, part_state_file
from nncli.runs.stacks import models_identity, read_units, save_models
from nncli.train.parallel import broadcast, gather
from nncli.train.threads import multiply_adds

Part = tuple[int, int, int]  # (stack, first, stop): members [first, stop) of grid.stacks[stack]


def split_parts(grid: Grid, world: int) -> list[Part]:
    """Each stack cut into contiguous parts of two or more models, at most `world` of them."""
    parts = []
    for s, members in enumerate(grid.stacks):
        n = len(members)
        count = max(1, min(world, n // 2))
        bounds = [i * n // count for i in range(count + 1)]
        parts += [(s, a, b) for a, b in itertools.pairwise(bounds)]
    return parts


def deal(costs: list[float], world: int) -> list[list[int]]:
    """Part indices for each rank: largest first, each to the least loaded rank (ties to the
    lowest), then each rank's in index order."""
    loads, dealt = [0.0] * world, [[] for _ in range(world)]
    for part in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        rank = min(range(world), key=lambda r: (loads[r], r))
        loads[rank] += costs[part]
        dealt[rank].append(part)
    return [sorted(mine) for mine in dealt]


def part_cost(grid: Grid, prepared: dict, part: Part) -> float:
    """Multiply-adds to train a part: models x rows x sum(in x out) x epochs."""
    stack, first, stop = part
    config = grid.models[grid.stacks[stack][first]].config
    data = prepared[data_key(config)]
    sizes = [data.n_features, *config.model.widths, data.n_outputs]
    rows = len(data.raw["train"][1])
    return multiply_adds(sizes, rows, stop - first) * config.training.epochs


@dataclass
class SplitProgress:
    """A split sweep's parts, and (resuming) which are finished and which stopped part-way."""

    parts: list[Part]
    done: set[int] = field(default_factory=set)
    states: dict[int, tuple] = field(default_factory=dict)  # part -> (state, params)


def survey(grid: Grid, world: int, folder_path: Path | None = None) -> SplitProgress:
    """A new split sweep's parts for `world` processes; or, with the folder of one to resume,
    its parts, the finished ones and the states of those stopped part-way, read and checked
    (a bad file is refused before the folder is touched)."""
    if folder_path is None:
        return SplitProgress(split_parts(grid, world))
    partial = folder_path / PARTIAL_DIR
    units = read_units(folder_path) or {}
    saved = units.get("parts")
    parts = [tuple(p) for p in saved] if isinstance(saved, list) else []
    if not parts or not all(_fits(part, grid) for part in parts):
        raise UsageError(f"{partial / UNITS_FILE}: its parts do not fit this sweep's grid")
    done = {u for u in range(len(parts)) if _done_file(partial, u).exists()}
    states = {u: _load_state(partial, u, _configs(grid, parts[u])) for u in range(len(parts))
              if u not in done and _state_file(partial, u).exists()}  # fmt: skip
    return SplitProgress(parts, done, states)


def _fits(part: tuple, grid: Grid) -> bool:
    """Whether `part`, as read back, is (stack, first, stop) of models of `grid`."""
    if len(part) != 3 or not all(type(value) is int for value in part):
        return False
    stack, first, stop = part
    return 0 <= stack < len(grid.stacks) and 0 <= first < stop <= len(grid.stacks[stack])


def train_grid_split(
    grid: Grid,
    prepared: dict,
    folder,
    session: Session,
    progress: SplitProgress,
    *,
    resuming: bool = False,
    diagnostics: bool = False,
) -> list:
    """Train the grid's models split across the ranks (in turn, alone) from `progress`; the
    leader returns one ModelFit per grid model, the others nothing. A stop request raises
    `PartsStopped` on every rank once the round's progress is saved."""
    from nncli.train.state import PartsStopped

    ranks, should_stop = session.ranks, session.should_stop
    world, leader = ranks.world, ranks.leader
    partial = folder.path / PARTIAL_DIR if leader else None
    parts, done, states = progress.parts, progress.done, progress.states
    if leader and not resuming:
        partial.mkdir(exist_ok=True)
        atomic_write_json(partial / UNITS_FILE, {"info": folder.info, "parts": parts})
    todo = [u for u in range(len(parts)) if u not in done]
    dealt = deal([part_cost(grid, prepared, parts[u]) for u in todo], world)
    mine = [todo[i] for i in dealt[ranks.rank]]
    fits: list = [None] * len(grid.models)
    if leader:
        for u in done:
            found = _read_part(grid, prepared, partial, parts[u], u, diagnostics)
            _keep(grid, fits, parts[u], found)
    for round_index in range(max(len(d) for d in dealt) if todo else 0):
        outcome: tuple = ()
        if round_index < len(mine):
            u = mine[round_index]
            if session.on_stack is not None:
                session.on_stack(round_index, len(mine))
            stack, first, stop = parts[u]
            on_epoch = session.epoch_hook(grid.stacks[stack][first:stop])
            outcome = _train_part(grid, prepared, parts[u], u, states.get(u), diagnostics,
                                  should_stop, on_epoch)  # fmt: skip
            if leader:  # kept before waiting for the others, whatever happens to them
                _save_outcome(grid, fits, partial, parts, outcome)
        stop = should_stop is not None and should_stop()
        outcomes = gather(ranks, (outcome, stop))
        stopping = False
        if leader:
            for rank, (result, stopped) in enumerate(outcomes):
                stopping |= stopped or (bool(result) and result[1] == "stopped")
                if result and rank > 0:
                    _save_outcome(grid, fits, partial, parts, result)
        if broadcast(ranks, stopping):
            if not leader:
                raise PartsStopped(0, 0, len(parts))
            finished = sum(_done_file(partial, u).exists() for u in range(len(parts)))
            stopped = sum(_state_file(partial, u).exists() for u in range(len(parts)))
            raise PartsStopped(finished, stopped, len(parts))
    return fits if leader else []


def _train_part(grid, prepared, part: Part, u: int, state, diagnostics, should_stop, on_epoch):
    """("done", fits, seconds) or ("stopped", state, params), with the part's index first."""
    from nncli.model.mlp import layer_sizes
    from nncli.runs.statechecks import check_state_fits
    from nncli.train.stack import train_stack
    from nncli.train.state import TrainingStopped

    stack, first, stop = part
    configs = [grid.models[i].config for i in grid.stacks[stack][first:stop]]
    data = prepared[data_key(configs[0])]
    if state is not None:
        check_state_fits(
            _state_file(Path(PARTIAL_DIR), u),
            *state,
            n_models=len(configs),
            n_train=len(data.raw["train"][1]),
            batch_size=configs[0].training.batch_size,
            sizes=layer_sizes(data.n_features, configs[0].model.widths, data.n_outputs),
            epochs=configs[0].training.epochs,
        )
    start = time.perf_counter()
    try:
        whole = [grid.models[i].config for i in grid.stacks[stack]]
        fits = train_stack(configs, data, diagnostics=diagnostics, on_epoch=on_epoch,
                           should_stop=should_stop, resume=state, stack=whole)  # fmt: skip
    except TrainingStopped as exc:
        return (u, "stopped", exc.state, [p.detach().cpu() for p in exc.params])
    seconds = None if state is not None else time.perf_counter() - start
    for model_fit in fits:
        model_fit.stack_seconds = seconds
    return (u, "done", fits)


def _save_outcome(grid, fits: list, partial: Path, parts: list, result: tuple) -> None:
    from nncli.runs.state import save_training_state

    u, what = result[0], result[1]
    if what == "done":
        save_models(_done_file(partial, u), result[2])
        _state_file(partial, u).unlink(missing_ok=True)
        history_path(_state_file(partial, u)).unlink(missing_ok=True)
        _keep(grid, fits, parts[u], result[2])
    else:  # with the models it holds, so that a swapped or stale state is refused
        identity = {"models": models_identity(_configs(grid, parts[u]))}
        save_training_state(_state_file(partial, u), result[2], result[3], identity)


def _keep(grid: Grid, fits: list, part: Part, done: list) -> None:
    stack, first, stop = part
    for i, model_fit in zip(grid.stacks[stack][first:stop], done, strict=True):
        fits[i] = model_fit


def _read_part(
    grid: Grid, prepared: dict, partial: Path, part: Part, u: int, diagnostics: bool
) -> list:
    """A finished part's models, measured again (as a resumed single-process sweep does)."""
    from nncli.grid.run import measure_saved

    stack, first, stop = part
    configs = [grid.models[i].config for i in grid.stacks[stack][first:stop]]
    return measure_saved(_done_file(partial, u), configs, prepared[data_key(configs[0])],
                         diagnostics)  # fmt: skip


def _configs(grid: Grid, part: Part) -> list:
    stack, first, stop = part
    return [grid.models[i].config for i in grid.stacks[stack][first:stop]]


def _load_state(partial: Path, u: int, configs: list) -> tuple:
    from nncli.runs.state import load_training_state

    path = _state_file(partial, u)
    state, params, info = load_training_state(path)
    if info.get("models") != models_identity(configs):
        raise DamagedFileError(
            f"{path}: it holds other models than part {u} (a stale or swapped file)"
        )
    return state, params


def _done_file(partial: Path, u: int) -> Path:
    return partial / part_file(u)


def _state_file(partial: Path, u: int) -> Path:
    return partial / part_state_file(u)

"""A search's batch of trials trained stacked: each trial's models (one per seed) placed in the
stack of every model its shapes agree with (`stack_key`), so that trials differing only in
per-model keys (lr, momentum, weight decay, activation) share one batched pass, and trials
whose widths, depths or batch sizes differ train in stacks of their own, one after another.

Each stack's trials are handed back as it finishes, so that a search can tell them to its
study at once; a pruner is asked after every epoch which trials of the stack to stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from nncli.config.keys import stack_key
from nncli.config.schema import Config
from nncli.grid.session import Session

if TYPE_CHECKING:
    from nncli.data.prepared import PreparedData
    from nncli.train.stack import ModelFit
    from nncli.train.state import EpochReport

# (each stacked model's trial, the epoch's report) -> the trials to stop now
Pruner = Callable[[list[int], "EpochReport"], set[int]]


def trial_stacks(trials: list[list[Config]]) -> list[list[tuple[int, int]]]:
    """The stacks a batch trains as: (trial, seed index) pairs, a trial's seeds side by side,
    each stack's activations contiguous (as `grid.spec` groups a sweep's)."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for t, configs in enumerate(trials):
        for s, config in enumerate(configs):
            groups.setdefault(stack_key(config), []).append((t, s))
    stacks = []
    for members in groups.values():
        order = list(dict.fromkeys(trials[t][s].model.activation for t, s in members))
        members.sort(key=lambda m: order.index(trials[m[0]][m[1]].model.activation))
        stacks.append(members)
    return stacks


def train_trials(
    trials: list[list[Config]],
    prepared: PreparedData,
    session: Session,
    *,
    prune: Pruner | None = None,
) -> Iterator[dict[int, list[ModelFit]]]:
    """Train every trial's models (`trials[t]`: one config per seed) stack by stack; yield,
    as each stack finishes, its trials' fits (trial -> one fit per seed, in seed order).

    A stop request raises `engine.TrainingStopped` from inside the stack it came in: what the
    stacks before it yielded is all that finished.
    """
    from nncli.train.stack import train_stack

    stacks = trial_stacks(trials)
    for index, members in enumerate(stacks):
        if session.on_stack is not None:
            session.on_stack(index, len(stacks))
        owners = [t for t, _ in members]
        stop = None
        if prune is not None:

            def stop(report: EpochReport, owners: list[int] = owners) -> list[int]:
                pruned = prune(owners, report)
                return [i for i, t in enumerate(owners) if t in pruned]

        fits = train_stack(
            [trials[t][s] for t, s in members],
            prepared,
            on_epoch=session.on_epoch,
            should_stop=session.should_stop,
            prune=stop,
        )
        done: dict[int, list[tuple[int, ModelFit]]] = {}
        for (t, s), fit in zip(members, fits, strict=True):
            done.setdefault(t, []).append((s, fit))
        yield {
            t: [fit for _, fit in sorted(pairs, key=lambda p: p[0])] for t, pairs in done.items()
        }

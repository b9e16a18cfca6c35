"""How many CPU threads torch computes with: one for small models, more for steps with work to
share (`training.threads`)."""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nncli.config import Config
    from nncli.data import PreparedData

# A thread pays for itself only with at least this many multiply-adds of a step to do: below
# it, handing work to a second thread and waiting for it costs more than the thread saves, and
# on a machine shared with other work the wait can make a step several times slower. Measured
# with benchmarks/threads.py (docs/benchmarks.md, "Threads").
MULTIPLY_ADDS_PER_THREAD = 2_000_000


def multiply_adds(sizes: list[int], batch: int, n_models: int = 1) -> int:
    """A forward pass's multiply-adds: batch x the sum of in x out over the layers `sizes`
    (inputs first), for each of `n_models` stacked models. Backward is about twice this."""
    return batch * n_models * sum(a * b for a, b in itertools.pairwise(sizes))


def available_cores() -> int:
    """The cores this process may run on (its affinity: `taskset`, a container's CPU set), or
    fewer where OMP_NUM_THREADS says so."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        return min(cores or 1, int(limit))
    return cores or 1


def idle_cores(cores: int, load: float | None = None) -> int:
    """Of `cores`, those other work leaves idle: the machine's 1-minute load average (`load`),
    taken as spread evenly over all its cores, subtracted; at least one."""
    load = os.getloadavg()[0] if load is None else load
    busy = load * cores / max(os.cpu_count() or cores, cores)
    return max(1, min(cores, int(cores - busy + 0.5)))


def choose_threads(setting: int | str, work: int, cores: int) -> int:
    """`training.threads`: a number is used as given; "auto" is one thread per
    `MULTIPLY_ADDS_PER_THREAD` of `work` (multiply-adds per step), at least one and at most
    `cores` (those idle)."""
    if setting != "auto":
        return int(setting)
    return max(1, min(cores, work // MULTIPLY_ADDS_PER_THREAD))


def stack_threads(config: Config, prepared: PreparedData, n_models: int) -> int:
    """The threads a stack of `n_models` models of `config`'s shape trains with on `prepared`."""
    sizes = [prepared.n_features, *config.model.widths, prepared.n_outputs]
    batch = min(config.training.batch_size, len(prepared.raw["train"][1]))  # as training clamps it
    work = multiply_adds(sizes, batch, n_models)
    return choose_threads(config.training.threads, work, idle_cores(available_cores()))


def use_auto_threads(work: int) -> int:
    """Set torch's thread count as "auto" chooses it for `work` multiply-adds; return it."""
    import torch

    threads = choose_threads("auto", work, idle_cores(available_cores()))
    torch.set_num_threads(threads)
    return threads

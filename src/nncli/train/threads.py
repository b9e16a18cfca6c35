"""How many CPU threads torch computes with: one for small models, more for steps with work to
share (`training.threads`)."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nncli.config.schema import Config
    from nncli.data.prepared import PreparedData

# Each thread gets at least this many multiply-adds of a step: on this 2-core machine with
# nothing else running, a second thread gained nothing up to 1M multiply-adds per step, 12% at
# 4.3M, 25% at 8.5M and 32-110% from 17M up; with one other busy process, two threads ran at
# 0.3-45% of one thread's speed at every size, hence the idle cores only (benchmarks/threads.py;
# docs/benchmarks.md, "Threads").
MULTIPLY_ADDS_PER_THREAD = 4_000_000


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


@functools.cache
def cores_to_use() -> int:
    """The idle cores as this process first finds them: once it trains, its own threads count
    in the load average, and a sweep's later stacks would see fewer. Processes of one torchrun
    launch on this machine share them (torchrun itself sets OMP_NUM_THREADS=1 unless told)."""
    from nncli.train.parallel import local_share

    cores = idle_cores(available_cores())
    if "OMP_NUM_THREADS" not in os.environ:  # a per-process count, when given
        cores = max(1, cores // local_share())
    return cores


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
    return choose_threads(config.training.threads, work, cores_to_use())


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Compute with `threads` torch threads in the body, and with as many as before after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def use_auto_threads(work: int) -> int:
    """Set torch's thread count as "auto" chooses it for `work` multiply-adds; return it."""
    import torch

    threads = choose_threads("auto", work, cores_to_use())
    torch.set_num_threads(threads)
    return threads

"""Several processes as one run, launched by `torchrun`: who is who, the process group, and the
few collectives nncli needs.

`torchrun --nproc-per-node N -m nncli train ...` starts N copies of the command with RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address in their environment. They join one
`torch.distributed` process group: gloo for CPU tensors, and NCCL for CUDA tensors where CUDA is
there. Rank 0 (the leader) alone prints and writes files; every rank trains.

What crosses between ranks: a step's gradients and stop flag (one all-reduce), each epoch's
outputs (one all-gather), and at the ends of the setup, of a stop and of a sweep, small Python
objects (`torch.distributed`'s pickled object collectives, between processes of one launch).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from nncli.errors import PeerFailed, UsageError, clipped

if TYPE_CHECKING:
    import torch

# How long a rank waits for the others at a collective. A sweep's ranks meet after each round
# of parts, which may take hours, so it is long: a rank that dies closes its connections and the
# others fail at once, and a hung launch stops with Ctrl-C.
COLLECTIVE_TIMEOUT = timedelta(days=7)


@dataclass(frozen=True)
class Ranks:
    """This process's place in a torchrun launch."""

    rank: int  # 0 .. world - 1; rank 0 leads
    world: int  # processes in the launch (WORLD_SIZE)
    local_rank: int  # its index on this machine: its CUDA device
    local_world: int  # processes on this machine: they share its cores

    @classmethod
    def single(cls) -> Ranks:
        """A process on its own: rank 0 of 1, its own leader."""
        return cls(rank=0, world=1, local_rank=0, local_world=1)

    @property
    def leader(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether other processes share the run (a torchrun launch of two or more)."""
        return self.world > 1


def launched() -> Ranks | None:
    """The launch this process belongs to, from torchrun's environment; None when it runs alone
    (a launch of one process runs alone too)."""
    env = os.environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        ranks = Ranks(
            rank=int(env["RANK"]),
            world=world,
            local_rank=int(env.get("LOCAL_RANK", "0")),
            local_world=int(env.get("LOCAL_WORLD_SIZE", "1")),
        )
    except (KeyError, ValueError):
        raise UsageError(
            "WORLD_SIZE is set but RANK or LOCAL_RANK is missing or not a number: launch"
            " several processes with torchrun"
        ) from None
    if not 0 <= ranks.rank < world:
        raise UsageError(f"RANK {ranks.rank} is outside WORLD_SIZE {world}")
    return ranks


def local_share() -> int:
    """How many nncli processes share this machine's cores: LOCAL_WORLD_SIZE under torchrun."""
    ranks = launched()
    return ranks.local_world if ranks is not None else 1


@contextmanager
def process_group() -> Iterator[Ranks]:
    """Join the launch's process group for the body (`Ranks.single()`, and nothing to join,
    alone)."""
    ranks = launched()
    if ranks is None:
        yield Ranks.single()
        return
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise UsageError("this PyTorch build has no torch.distributed: run nncli without torchrun")
    # torchrun ends a launch whose rank failed by sending SIGTERM to the others: each then says
    # why it stopped and exits, instead of dying mid-sentence (torchrun kills a process still
    # running 30 seconds later). While training, `interrupts.stop_on_signals` handles SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    backend = "gloo"
    if torch.cuda.is_available() and dist.is_nccl_available():
        backend = "cpu:gloo,cuda:nccl"  # each collective goes where its tensors are
        torch.cuda.set_device(ranks.local_rank % torch.cuda.device_count())
    dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    try:
        yield ranks
    finally:
        dist.destroy_process_group()


def _peer_lost(exc: RuntimeError) -> PeerFailed:
    """A collective that failed because another rank is gone (gloo says the connection closed)
    or timed out."""
    text = str(exc)
    gone = any(word in text.lower() for word in ("closed", "reset", "broken pipe"))
    detail = "its connection closed" if gone else clipped(text, 160)
    return PeerFailed(1, f"another process of the launch stopped ({detail})")


def agree(ranks: Ranks, error: BaseException | None) -> None:
    """Every rank says how its part of a phase went; all of them carry on only if every one
    succeeded. A failing rank raises its own error, unless a lower rank failed with the same
    message (the launch then prints it once); the others raise `PeerFailed`. Alone, the
    process's own error is raised."""
    if not ranks.distributed:
        if error is not None:
            raise error
        return
    import torch.distributed as dist

    mine = None if error is None else (str(error), getattr(error, "exit_code", 1))
    outcomes: list[Any] = [None] * ranks.world
    try:
        dist.all_gather_object(outcomes, mine)
    except RuntimeError as exc:
        raise _peer_lost(exc) from None
    failed = [(rank, outcome) for rank, outcome in enumerate(outcomes) if outcome is not None]
    if not failed:
        return
    if error is not None and all(m != mine[0] for r, (m, _) in failed if r < ranks.rank):
        raise error
    raise PeerFailed(failed[0][1][1])


def broadcast(ranks: Ranks, value: Any = None) -> Any:
    """The leader's `value`, on every rank."""
    if not ranks.distributed:
        return value
    import torch.distributed as dist

    box = [value if ranks.leader else None]
    try:
        dist.broadcast_object_list(box, src=0)
    except RuntimeError as exc:
        raise _peer_lost(exc) from None
    return box[0]


def gather(ranks: Ranks, value: Any) -> list[Any] | None:
    """Every rank's `value`, in rank order, on the leader (None elsewhere)."""
    if not ranks.distributed:
        return [value]
    import torch.distributed as dist

    found: list[Any] | None = [None] * ranks.world if ranks.leader else None
    try:
        dist.gather_object(value, found, dst=0)
    except RuntimeError as exc:
        raise _peer_lost(exc) from None
    return found


class DataParallel:
    """The collectives one model trained on every rank's shard of each batch needs.

    A global batch of b rows is cut into `world` contiguous shards, rank r taking rows
    [r b / world, (r + 1) b / world): every rank knows every shard, so each one can put the
    gathered outputs back in the epoch's order.
    """

    def __init__(self, ranks: Ranks):
        self.ranks = ranks
        self.rank, self.world = ranks.rank, ranks.world

    def bounds(self, rows: int, rank: int | None = None) -> tuple[int, int]:
        """[start, stop) of `rank`'s (this one's) shard of `rows` rows."""
        r = self.rank if rank is None else rank
        return r * rows // self.world, (r + 1) * rows // self.world

    def broadcast_parameters(self, params: list[torch.Tensor]) -> None:
        """Every rank starts from the leader's parameters, bit for bit."""
        import torch.distributed as dist

        try:
            for param in params:
                dist.broadcast(param.detach(), src=0)
        except RuntimeError as exc:
            raise _peer_lost(exc) from None

    def all_reduce(self, flat: torch.Tensor) -> None:
        """Sum `flat` over the ranks, in place; every rank ends with the same values."""
        import torch.distributed as dist

        try:
            dist.all_reduce(flat)
        except RuntimeError as exc:
            raise _peer_lost(exc) from None

    def gather_rows(self, local: torch.Tensor, owned: list[torch.Tensor]) -> torch.Tensor:
        """Every rank's rows (K, n_r, C) gathered into one (K, n, C) tensor, row i in
        position i of the order `owned[r]` (each rank's row positions, as `local` holds them)
        says."""
        import torch
        import torch.distributed as dist

        longest = max(len(rows) for rows in owned)
        k, _, c = local.shape
        padded = local.new_zeros(k, longest, c)
        padded[:, : local.shape[1]] = local
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        try:
            dist.all_gather(parts, padded)
        except RuntimeError as exc:
            raise _peer_lost(exc) from None
        total = sum(len(rows) for rows in owned)
        out = local.new_empty(k, total, c)
        for part, rows in zip(parts, owned, strict=True):
            out[:, rows.to(out.device)] = part[:, : len(rows)]
        return out

    def batch_rows(self, n: int, batch: int, first_step: int, last_step: int) -> list:
        """For steps [first_step, last_step) of an epoch of n rows in batches of `batch`: each
        rank's row positions, counted from the first of those steps, in the order it trained
        them."""
        import torch

        full_steps = min(last_step, n // batch) - first_step  # the full batches among them
        owned = []
        for rank in range(self.world):
            lo, hi = self.bounds(batch, rank)
            starts = torch.arange(max(full_steps, 0)) * batch  # (S,)
            pieces = [(starts[:, None] + torch.arange(lo, hi)).flatten()]
            if last_step * batch > n and last_step - 1 >= first_step:  # the last, short batch
                start = (last_step - 1) * batch
                lo, hi = self.bounds(n - start, rank)
                pieces.append(torch.arange(start + lo, start + hi) - first_step * batch)
            owned.append(torch.cat(pieces))
        return owned

    def split_rows(self, n: int) -> list:
        """Each rank's contiguous share of n rows (a split to score), as row positions."""
        import torch

        return [torch.arange(*self.bounds(n, rank)) for rank in range(self.world)]


class GradientSync:
    """A data-parallel step's gradients, summed over the ranks in one all-reduce together with
    a stop flag: a rank asked to stop tells every other one at the same step, at no cost of
    its own."""

    def __init__(self, group: DataParallel, params: list[torch.Tensor]):
        import torch

        self.group = group
        sizes = [p.numel() for p in params]
        self.flat = torch.zeros(sum(sizes) + 1, device=params[0].device)  # gradients, then flag
        # One view per parameter, shaped like it (stacked: (K, ...)); a step writes its
        # gradients here.
        self.grads = [
            part.view(p.shape) for part, p in zip(self.flat[:-1].split(sizes), params, strict=True)
        ]
        self.stop_requested = False  # this rank's, set before each step
        self.stop_agreed = False  # any rank's, known after it

    def __call__(self) -> None:
        """Sum the gradients the step wrote (and the stop flags) over the ranks."""
        self.flat[-1] = float(self.stop_requested)
        self.group.all_reduce(self.flat)
        self.stop_agreed = bool(self.flat[-1] > 0)

"""How much time nncli's `engine.fit` adds over a bare PyTorch loop training the same model.

    python benchmarks/engine_overhead.py --repeats 7 --epochs 20

Both sides train the same seeded `nn.Sequential` (`nncli.model.seeded_mlp`) with the same SGD
settings and the same batches: per epoch, `torch.randperm(n, generator=g)` with
`g = torch.Generator().manual_seed(seed)`, then slices of `X[perm]`, `y[perm]`. The bare loop does
the training steps only. nncli's `fit` also measures loss and accuracy on the whole training and
validation splits after every epoch (what the CLI prints and plots), and that is counted as part
of its cost: `overhead = t_nncli / t_bare - 1`. Runs are interleaved (bare, nncli, bare, ...) and
the medians compared, because the machine is small and noisy. Each case also checks that both
sides end with bitwise equal parameters.

`--breakdown` times variants that say where any overhead comes from: nncli without a validation
split, and the bare loop plus, one at a time, the extras nncli does: recording each step's loss
into a tensor (for divergence checks), and the per-epoch measurement of the training and
validation splits (or the validation split alone).

Torch runs single-threaded by default here (`--threads` changes it): on a 2-core machine shared
with other processes, two OpenMP threads occasionally stall a run by 10-100x, and these models are
too small for intra-op parallelism to pay off.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nncli.configfile import validate_config
from nncli.data import prepare_data
from nncli.engine import FitSettings, ModelSettings, fit
from nncli.model import StackedMLP, layer_sizes, seeded_mlp
from nncli.sgd import SGDSettings

SEED = 0
LR, MOMENTUM, BATCH = 0.05, 0.9, 32


@dataclass(frozen=True)
class Case:
    name: str
    depth: int
    width: int
    n_samples: int


CASES = [
    Case("moons d2 w32", depth=2, width=32, n_samples=3000),
    Case("moons d4 w64", depth=4, width=64, n_samples=3000),
    # Wide enough that compute, not Python dispatch, dominates each step.
    Case("moons d4 w256", depth=4, width=256, n_samples=3000),
]

Split = tuple[torch.Tensor, torch.Tensor]  # (N, F) float32, (N,) int64


def moons_splits(n_samples: int) -> tuple[Split, Split]:
    """nncli's own 70/15/15 split of moons, standardized on the training split."""
    raw = {"data": {"source": "moons", "n_samples": n_samples, "noise": 0.2}}
    prepared = prepare_data(validate_config(raw).data)
    cpu = torch.device("cpu")
    return prepared.tensors("train", cpu), prepared.tensors("val", cpu)


def bare_loop(
    net: nn.Sequential,
    train: Split,
    epochs: int,
    measure: Callable[[nn.Module], None] | None,
    record: bool,
) -> None:
    """The loop anyone would write; `measure(net)` after each epoch and `record` are extras."""
    x, y = train
    n = len(x)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    g = torch.Generator().manual_seed(SEED)
    step_losses = torch.empty(-(-n // BATCH), 1)  # (S, 1), as nncli keeps them
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        x_epoch, y_epoch = x[perm], y[perm]
        for step, lo in enumerate(range(0, n, BATCH)):
            loss = F.cross_entropy(net(x_epoch[lo : lo + BATCH]), y_epoch[lo : lo + BATCH])
            if record:
                step_losses[step] = loss.detach()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if measure is not None:
            measure(net)


def hand_measure(splits: list[Split]) -> Callable[[nn.Module], None]:
    """What nncli reports per epoch (loss and accuracy of each split), written plainly."""

    @torch.no_grad()
    def measure(net: nn.Module) -> None:
        for x, y in splits:
            out = net(x)
            F.cross_entropy(out, y).item()
            (out.argmax(dim=-1) == y).double().mean().item()

    return measure


def run_bare(
    sizes: list[int],
    train: Split,
    epochs: int,
    measure: Callable[[nn.Module], None] | None = None,
    record: bool = False,
) -> tuple[float, list[torch.Tensor]]:
    net = seeded_mlp(sizes, "relu", SEED)
    start = time.perf_counter()
    bare_loop(net, train, epochs, measure, record)
    elapsed = time.perf_counter() - start
    return elapsed, [p.detach().clone() for p in net.parameters()]


def run_nncli(
    sizes: list[int], train: Split, val: Split | None, epochs: int
) -> tuple[float, list[torch.Tensor]]:
    stacked = StackedMLP.from_seeds(sizes, ["relu"], [SEED])
    settings = FitSettings(batch_size=BATCH, epochs=epochs)
    model = ModelSettings(SEED, SGDSettings(lr=LR, momentum=MOMENTUM))
    start = time.perf_counter()
    fit(stacked, train, val, task="classification", settings=settings, models=[model])
    elapsed = time.perf_counter() - start
    return elapsed, [p.detach().clone() for p in stacked.member(0).parameters()]


def bitwise_equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def bench_case(case: Case, args: argparse.Namespace) -> dict:
    train, val = moons_splits(case.n_samples)
    sizes = layer_sizes(train[0].shape[1], [case.width] * case.depth, 2)
    variants: dict[str, Callable[[], tuple[float, list]]] = {
        "bare": lambda: run_bare(sizes, train, args.epochs),
        "nncli": lambda: run_nncli(sizes, train, val, args.epochs),
    }
    if args.breakdown:
        both, val_only = hand_measure([train, val]), hand_measure([val])
        variants |= {
            "nncli, no val": lambda: run_nncli(sizes, train, None, args.epochs),
            "bare+record": lambda: run_bare(sizes, train, args.epochs, record=True),
            "bare+meas tr+val": lambda: run_bare(sizes, train, args.epochs, both),
            "bare+meas val": lambda: run_bare(sizes, train, args.epochs, val_only),
        }

    for run in variants.values():  # warm-up: allocator, kernels, lazy imports
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    params: dict[str, list] = {}
    for _ in range(args.repeats):  # interleaved: A, B, A, B, ...
        for name, run in variants.items():
            elapsed, params[name] = run()
            times[name].append(elapsed)

    bare = times["bare"]
    ratios = {  # per-repeat ratio to the bare run of the same repeat, then the median
        name: statistics.median(t / b for t, b in zip(ts, bare, strict=True))
        for name, ts in times.items()
    }
    return {
        "case": case,
        "n_train": len(train[0]),
        "steps": -(-len(train[0]) // BATCH) * args.epochs,
        "median": {name: statistics.median(ts) for name, ts in times.items()},
        "ratio": ratios,
        "overheads": [t / b - 1 for t, b in zip(times["nncli"], bare, strict=True)],
        "equal": bitwise_equal(params["bare"], params["nncli"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each variant")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--breakdown", action="store_true", help="also time variants")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; SGD lr {LR}, momentum"
        f" {MOMENTUM}, batch {BATCH}, {args.epochs} epochs, {args.repeats} interleaved repeats"
    )
    print("target: nncli adds no more than 5% over the bare loop\n")
    results = [bench_case(case, args) for case in CASES]

    header = f"{'case':<14} {'steps':>6} {'variant':<16} {'median s':>9} {'vs bare':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        for i, (name, t) in enumerate(r["median"].items()):
            label = f"{r['case'].name:<14} {r['steps']:>6}" if i == 0 else " " * 21
            print(f"{label} {name:<16} {t:>9.3f} {r['ratio'][name] - 1:>+8.1%}")
    print()
    for r in results:
        spread = ", ".join(f"{o:+.1%}" for o in r["overheads"])
        verdict = "OK" if r["ratio"]["nncli"] - 1 <= 0.05 else "ABOVE 5% TARGET"
        print(
            f"{r['case'].name}: overhead {r['ratio']['nncli'] - 1:+.1%} (median of per-repeat"
            f" ratios; {verdict}); per repeat: {spread}"
        )
        print(f"  final parameters bitwise equal to the bare loop: {r['equal']}")


if __name__ == "__main__":
    main()

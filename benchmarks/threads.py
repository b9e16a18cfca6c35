"""Training steps per second at 1 and 2 torch threads, by work per step, with and without load.

    python benchmarks/threads.py                      # as the machine is, then loaded
    python benchmarks/threads.py --quiet-below 0.1    # only moments other work left idle
    python benchmarks/threads.py --threads 1,2,4 --repeats 5

A step is what nncli's engine does per batch: K stacked MLPs (weights (K, in, out)), forward,
cross-entropy, backward, an SGD update; 2 inputs and 2 classes, as moons. The work per step is
`threads.multiply_adds` (batch x sum of in x out x K), the number `training.threads: auto`
decides by. A round times a model at each thread count in turn; `--repeats` rounds, medians
reported. Every measurement also records how many cores other processes kept busy meanwhile
(from /proc/stat, less this process's own time): the "other work" column. "loaded" first starts
one busy loop (`python -c "while True: pass"`) per available core. `--quiet-below C` measures
only the machine as it is and keeps just the rounds during which other work stayed under C
cores, retrying the others until `--minutes` pass: on a shared machine, the nearest to idle.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from nncli.train.threads import available_cores, multiply_adds

# (depth, width, batch, models stacked)
MODELS = [
    (2, 16, 32, 1),  # configs/moons.yaml
    (2, 64, 32, 1),
    (2, 16, 32, 30),  # compare-activations: 10 activations x 3 seeds
    (2, 128, 64, 1),
    (2, 128, 256, 1),
    (2, 256, 128, 1),
    (2, 256, 192, 1),
    (2, 256, 256, 1),
    (3, 256, 1024, 1),
    (3, 256, 4096, 1),
    (4, 1024, 1024, 1),
]


def busy_seconds() -> tuple[float, float]:
    """CPU seconds busy so far: all processes' (from /proc/stat), and this process's."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, stat.readline().split()[1:8])
    own = os.times()
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK"), own.user + own.system


def steps_per_second(model: tuple, seconds: float) -> tuple[float, float]:
    """Steps a second, and the cores other processes kept busy meanwhile."""
    depth, width, batch, k = model
    sizes = [2, *[width] * depth, 2]
    weights = [torch.randn(k, a, b, requires_grad=True) for a, b in itertools.pairwise(sizes)]
    biases = [torch.zeros(k, 1, b, requires_grad=True) for b in sizes[1:]]
    x = torch.randn(k, batch, 2)  # (K, B, F)
    y = torch.randint(0, 2, (k * batch,))

    def step() -> None:
        h = x
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = torch.baddbmm(b, h, w)  # (K, B, out)
            if i < len(weights) - 1:
                h = torch.relu(h)
        F.cross_entropy(h.reshape(k * batch, 2), y).backward()
        with torch.no_grad():
            for p in [*weights, *biases]:
                p -= 0.01 * p.grad
                p.grad = None

    for _ in range(3):  # warm up
        step()
    n, (all_before, own_before), start = 0, busy_seconds(), time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    elapsed = time.perf_counter() - start
    all_after, own_after = busy_seconds()
    others = max(0.0, (all_after - all_before) - (own_after - own_before)) / elapsed
    return n / elapsed, others


def measure(threads: list[int], repeats: int, seconds: float, quiet_below: float | None,
            deadline: float) -> dict:  # fmt: skip
    """model -> rounds, each {threads: (steps/s, other cores)} measured back to back; with
    `quiet_below`, only rounds during which other work stayed under it, retried until
    `deadline`."""
    found: dict = {model: [] for model in MODELS}
    while True:
        wanted = [model for model, rounds in found.items() if len(rounds) < repeats]
        if not wanted or time.monotonic() > deadline:
            return found
        for model in wanted:
            measured = {}
            for n in threads:
                torch.set_num_threads(n)
                measured[n] = steps_per_second(model, seconds)
            if quiet_below is None or max(o for _, o in measured.values()) < quiet_below:
                found[model].append(measured)


def table(found: dict, threads: list[int], repeats: int) -> None:
    header = " | ".join(f"{n} thread{'s' if n > 1 else ''}" for n in threads)
    print(f"| model | batch | K | multiply-adds per step | steps/s at {header} | other work |")
    print("|---|---|---|---|" + "---|" * len(threads) + "---|")
    for model, rounds in found.items():
        depth, width, batch, k = model
        work = multiply_adds([2, *[width] * depth, 2], batch, k)
        if not rounds:
            print(f"| {depth}x{width} | {batch} | {k} | {work:,} | no quiet moment |")
            continue
        median = {n: statistics.median(r[n][0] for r in rounds) for n in threads}
        base = median[threads[0]]
        shown = " | ".join(
            f"{median[n]:.1f}" + ("" if n == threads[0] else f" ({median[n] / base:.2f}x)")
            for n in threads
        )
        others = statistics.mean(o for r in rounds for _, o in r.values())
        few = "" if len(rounds) >= repeats else f", {len(rounds)} of {repeats} rounds"
        print(f"| {depth}x{width} | {batch} | {k} | {work:,} | {shown} | {others:.2f} cores{few} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--quiet-below", type=float, default=None, metavar="CORES")
    parser.add_argument("--minutes", type=float, default=30.0, help="with --quiet-below")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    cores = available_cores()
    print(f"torch {torch.__version__}, {cores} cores available, threads {threads}")
    conditions = ["as found", "loaded"] if args.quiet_below is None else ["quiet"]
    for condition in conditions:
        competitors = []
        if condition == "loaded":
            command = [sys.executable, "-c", "while True: pass"]
            competitors = [subprocess.Popen(command) for _ in range(cores)]
        deadline = time.monotonic() + 60 * args.minutes
        try:
            found = measure(threads, args.repeats, args.seconds, args.quiet_below, deadline)
        finally:
            for process in competitors:
                process.kill()
                process.wait()
        print(f"\n{condition} (other work: cores other processes kept busy while measuring)")
        table(found, threads, args.repeats)


if __name__ == "__main__":
    main()

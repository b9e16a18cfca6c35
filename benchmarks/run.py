"""The benchmark harness: nncli against the loops and libraries it should beat, in one command.

    python benchmarks/run.py            # every scenario (~10 minutes on 2 cores), rewrites the
                                        # generated section of docs/benchmarks.md
    python benchmarks/run.py --quick    # smaller sizes, fewer repeats (~2 minutes); no docs

Each scenario prints a table and its targets (✓/✗). Sized scenarios time training per step on
synthetic classification data for every side of `sides.py` (nncli's `engine.fit`, the explicit
written-out loop that bounds an explicit engine from below, the bare autograd loop,
scikit-learn's MLPClassifier, Lightning when installed); the stacked and whole-process scenarios
time commands end to end (`endtoend.py`). Sides run interleaved (A, B, C, A, B, C, ...), one
warm-up each first, and every ratio is the median of per-round ratios, so the load of a shared
machine hits both sides of a ratio alike; the seconds themselves are only indicative. GPU
scenarios run only where `torch.cuda.is_available()`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import commands
import endtoend
import processes
import sides
import torch
from sides import Side, Spec
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs/benchmarks.md"
BEGIN, END = "<!-- run.py begin -->", "<!-- run.py end -->"
MATMUL = "matmul rate bound"  # a sized scenario's step at the measured matmul rate


@dataclass(frozen=True)
class Sized:
    """Synthetic classification data and a ReLU MLP, trained by every side."""

    name: str
    n: int
    features: int
    hidden: tuple[int, ...]
    batch: int
    epochs: int
    repeats: int
    classes: int = 4
    precisions: tuple[str, ...] = ("fp32",)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.features, *self.hidden, self.classes)


@dataclass(frozen=True)
class Plan:
    sized: list[Sized]
    wide: Sized  # on a GPU only
    stacked_shapes: tuple[tuple[int, int], ...]  # (depth, width) of the 30 models
    stacked_epochs: int
    stacked_rounds: int
    whole_epochs: int  # of `nncli train configs/moons.yaml`
    whole_rounds: int
    commands_epochs: int  # of the training commands in the commands scenario
    commands_rounds: int
    epoch_rows: int  # the CSV table an epoch's cost is measured on
    epoch_counts: tuple[int, int]  # the two runs whose difference is that many epochs' cost
    epoch_rounds: int
    sweep_rows: int  # the CSV table of the 18-model sweep
    sweep_epochs: int
    sweep_rounds: int


FULL = Plan(
    sized=[
        Sized("small", 10_000, 20, (64, 64), batch=32, epochs=3, repeats=5),
        Sized("medium", 20_000, 32, (256,) * 3, batch=128, epochs=1, repeats=5),
        Sized("large batch", 100_000, 32, (256,) * 3, batch=4096, epochs=1, repeats=3),
    ],
    wide=Sized(
        "wide",
        131_072,
        32,
        (2048,) * 4,
        batch=8192,
        epochs=1,
        repeats=3,
        precisions=("fp32", "tf32", "bf16"),
    ),
    stacked_shapes=((2, 16), (4, 32), (8, 64)),
    stacked_epochs=20,
    stacked_rounds=3,
    whole_epochs=100,
    whole_rounds=5,
    commands_epochs=100,
    commands_rounds=5,
    epoch_rows=12_000,
    epoch_counts=(2, 22),
    epoch_rounds=5,
    sweep_rows=50_000,
    sweep_epochs=3,
    sweep_rounds=2,
)
QUICK = Plan(
    sized=[
        Sized("small", 2_000, 20, (64, 64), batch=32, epochs=1, repeats=3),
        Sized("medium", 4_096, 32, (256,) * 3, batch=128, epochs=1, repeats=3),
        Sized("large batch", 16_384, 32, (256,) * 3, batch=4096, epochs=1, repeats=2),
    ],
    wide=replace(FULL.wide, n=32_768, repeats=2),
    stacked_shapes=((2, 16),),
    stacked_epochs=5,
    stacked_rounds=1,
    whole_epochs=100,
    whole_rounds=1,
    commands_epochs=20,
    commands_rounds=1,
    epoch_rows=12_000,
    epoch_counts=(2, 12),
    epoch_rounds=1,
    sweep_rows=10_000,
    sweep_epochs=2,
    sweep_rounds=1,
)


@dataclass
class Measured:
    """Interleaved rounds of timings; a label absent from them could not run (n/a)."""

    rounds: list[dict[str, float]]

    def median(self, label: str) -> float | None:
        if label not in self.rounds[0]:
            return None
        return statistics.median(r[label] for r in self.rounds)

    def ratio(self, a: str, b: str) -> float | None:
        """The median over rounds of a / b."""
        if a not in self.rounds[0] or b not in self.rounds[0]:
            return None
        return statistics.median(r[a] / r[b] for r in self.rounds)


@dataclass(frozen=True)
class Target:
    label: str
    value: Callable[[Measured], float | None]
    op: str  # "≤" or "≥"
    bound: float
    unit: str = "x"  # "x", "s" or "%"

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.bound if self.op == "≤" else value >= self.bound


def ratio(a: str, b: str) -> Callable[[Measured], float | None]:
    return lambda m: m.ratio(a, b)


SKLEARN = [Target("nncli ÷ scikit-learn per step", ratio("nncli", "scikit-learn"), "≤", 0.8)]
EXPLICIT = [
    Target("nncli ÷ explicit lower bound", ratio("nncli", "explicit lower bound"), "≤", 1.05)
]
CPU_TARGETS = {
    "small": [
        *SKLEARN,
        Target("nncli ÷ scikit-learn, floor", ratio("nncli", "scikit-learn"), "≤", 1.0),
        *EXPLICIT,
        Target("bare autograd ÷ nncli", ratio("bare autograd", "nncli"), "≥", 1.3),
    ],
    "medium": [*SKLEARN, *EXPLICIT],
    "large batch": [
        *SKLEARN,
        *EXPLICIT,
        Target("nncli GFLOP/s ÷ matmul rate", ratio(MATMUL, "nncli"), "≥", 0.7, "%"),
    ],
}
# "A bare loop" on a GPU is the bare autograd loop; the explicit one is in the table beside it.
GPU_BARE = [Target("nncli ÷ bare autograd", ratio("nncli", "bare autograd"), "≤", 1.1)]
GPU_TARGETS = {
    "small": [
        *GPU_BARE,
        Target(
            "bare autograd ÷ nncli + CUDA graphs",
            ratio("bare autograd", "nncli + CUDA graphs"),
            "≥",
            3.0,
        ),
    ],
    "medium": GPU_BARE,
    "large batch": GPU_BARE,
    "wide": [
        Target(
            "nncli fp32 ÷ bare autograd fp32", ratio("nncli fp32", "bare autograd fp32"), "≤", 1.1
        ),
        Target("nncli fp32 ÷ nncli bf16", ratio("nncli fp32", "nncli bf16"), "≥", 4.0),
    ],
}


def formatted(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return {"x": f"{value:.2f}x", "s": f"{value:.2f} s", "%": f"{value:.0%}"}[unit]


@dataclass
class Section:
    """One scenario's table and targets, printed and written to the docs alike."""

    title: str
    notes: list[str]
    header: list[str]
    rows: list[list[str]]
    measured: Measured
    targets: list[Target]
    # More tables after the rows: header, rows, how many leading columns align left.
    tables: list[tuple[list[str], list[list[str]], int]] = field(default_factory=list)

    def checks(self) -> list[bool | None]:
        return [t.met(t.value(self.measured)) for t in self.targets]

    def check_rows(self) -> list[list[str]]:
        mark = {True: "✓", False: "✗", None: "-"}
        return [
            [
                t.label,
                formatted(t.value(self.measured), t.unit),
                f"{t.op} {formatted(t.bound, t.unit)}",
                mark[met],
            ]
            for t, met in zip(self.targets, self.checks(), strict=True)
        ]

    def render(self, *, markdown: bool) -> str:
        """As text for the terminal, or as Markdown for the docs."""
        table = markdown_table if markdown else text_table
        parts = [f"#### {self.title}" if markdown else self.title, *self.notes]
        parts.append(table(self.header, self.rows))
        parts += [table(header, rows, left) for header, rows, left in self.tables]
        if self.targets:
            parts.append(table(["target", "value", "wanted", "met"], self.check_rows()))
        return ("\n\n" if markdown else "\n").join(parts)


def text_table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), "-" * len(line(header)), *map(line, rows)])


def markdown_table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    lines = [header, ["---"] * left + ["---:"] * (len(header) - left), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def per_step(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def sized_scenario(
    s: Sized, device: str, runnable: dict[str, Side], targets: list[Target]
) -> Section:
    """Every side on the same data, interleaved; per-step medians and ratios to the first side."""
    data = sides.classification_data(s.n, s.features, s.classes, seed=0, device=device)
    spec = Spec(s.sizes, s.batch, s.epochs, device=device)
    runs = {
        f"{name} {p}" if len(s.precisions) > 1 else name: (side, replace(spec, precision=p))
        for name, side in runnable.items()
        for p in s.precisions
    }
    warm = tuple(t[: 4 * s.batch] for t in data)
    # The warm-up (imports, allocator, kernels) also tells which sides cannot run the spec.
    ready = [
        label for label, (side, sp) in runs.items() if side(replace(sp, epochs=1), warm) is not None
    ]
    width = max(s.hidden)
    flops = 6 * sides.multiply_adds(s.sizes) * s.n / sides.steps_per_epoch(s.n, s.batch)  # a step

    def one_round() -> dict[str, float]:
        seconds = {label: runs[label][0](runs[label][1], data) for label in ready}
        # The time a step's FLOPs take at the matrix-multiply rate measured in this round.
        seconds[MATMUL] = flops / 1e9 / sides.matmul_rate(s.batch, width, device, repeats=5)
        return seconds

    measured = Measured([one_round() for _ in range(s.repeats)])
    reference = next(iter(runs))
    rows = []
    for label in [*runs, MATMUL]:
        t = measured.median(label)
        rows.append(
            [
                label,
                per_step(t),
                formatted(measured.ratio(label, reference), "x"),
                "n/a" if t is None else f"{flops / t / 1e9:.3g}",
                formatted(measured.ratio(MATMUL, label), "%"),
            ]
        )
    steps = sides.steps_per_epoch(s.n, s.batch) * s.epochs
    title = (
        f"{s.name} ({device}): {s.n:,}x{s.features} → {'-'.join(map(str, s.hidden))} →"
        f" {s.classes} classes, batch {s.batch}, {s.epochs} epoch(s) = {steps} steps,"
        f" {s.repeats} rounds"
    )
    notes = [
        f"{MATMUL}: a step's FLOPs (6 x Σ in·out per sample) at the rate of a {s.batch}x{width}"
        f" @ {width}x{width} layer's three products (forward, both gradients), timed each round"
    ]
    header = ["side", "per step", f"÷ {reference}", "GFLOP/s", "of matmul rate"]
    return Section(title, notes, header, rows, measured, list(targets))


def stacked_scenario(plan: Plan, scratch: Path) -> Section:
    """30 models (6 activations x 5 seeds) stacked against one at a time, at each shape."""
    configs = {
        f"depth {d}, width {w}": endtoend.moons_config(d, w, plan.stacked_epochs)
        for d, w in plan.stacked_shapes
    }
    rounds = [
        {
            f"{shape}: {k}": v
            for shape, config in configs.items()
            for k, v in endtoend.stacked_runs(config, scratch).items()
        }
        for _ in range(plan.stacked_rounds)
    ]
    measured = Measured(rounds)
    rows, targets = [], []
    for shape in configs:
        for how in ("command", "engine"):
            stacked, sequential = f"{shape}: {how} stacked", f"{shape}: {how} sequential"
            rows.append(
                [
                    f"{shape}, {how}",
                    formatted(measured.median(stacked), "s"),
                    formatted(measured.median(sequential), "s"),
                    formatted(measured.ratio(sequential, stacked), "x"),
                ]
            )
        targets.append(
            Target(
                f"{shape}: command sequential ÷ stacked",
                ratio(f"{shape}: command sequential", f"{shape}: command stacked"),
                "≥",
                4.0,  # issue 20 (issue 10 asked 8x of the engine alone)
            )
        )
        targets.append(
            Target(
                f"{shape}: command stacked ÷ (import torch + engine stacked)",
                partial(_over_torch_and_engine, shape=shape),
                "≤",
                1.3,
            )
        )
    title = (
        f"stacked: 30 models (6 activations x 5 seeds), moons (700 training rows), batch 32,"
        f" {plan.stacked_epochs} epochs, {plan.stacked_rounds} rounds"
    )
    notes = [
        "command: `nncli compare-activations` as a process, stacked and `--sequential`"
        " (files and plots included); engine: `engine.fit` on one stack of 30, and on 30"
        " stacks of one"
    ]
    header = ["shape, through", "stacked", "sequential", "speed-up"]
    return Section(title, notes, header, rows, measured, targets)


def _over_torch_and_engine(measured: Measured, shape: str) -> float:
    """The stacked command ÷ its floor, `python -c "import torch"` plus the stacked training,
    the median of per-round ratios."""
    return statistics.median(
        r[f"{shape}: command stacked"]
        / (r[f"{shape}: import torch"] + r[f"{shape}: engine stacked"])
        for r in measured.rounds
    )


def whole_process_scenario(plan: Plan, scratch: Path) -> Section:
    config = ROOT / "configs/moons.yaml"
    measured = Measured(
        [
            endtoend.whole_process_runs(config, plan.whole_epochs, scratch)
            for _ in range(plan.whole_rounds)
        ]
    )
    rows = [[label, formatted(measured.median(label), "s")] for label in measured.rounds[0]]
    targets = [
        Target(
            "nncli train ÷ (import torch + training)",
            lambda m: statistics.median(
                r["nncli train"] / (r["import torch"] + r["training"]) for r in m.rounds
            ),
            "≤",
            1.25,  # issue 20
        ),
        Target("nncli --help", lambda m: m.median("nncli --help"), "≤", 0.3, "s"),
    ]
    title = (
        f"whole process: `nncli train configs/moons.yaml` ({plan.whole_epochs} epochs),"
        f" {plan.whole_rounds} rounds"
    )
    notes = [
        "training: `engine.fit` in this process, same shapes, rows, epochs and validation"
        ' split; import torch: `python -c "import torch"`'
    ]
    return Section(title, notes, ["measured", "median"], rows, measured, targets)


# The targets for the commands that do not train (issue 20): over the floor, or in all.
OVER_TORCH = {"evaluate": 0.3, "predict": 0.3, "split": 0.3}  # seconds over import torch
AT_MOST = {"config": 0.5, "runs": 0.5, "report": 0.5, "datasets": 0.5, "--help": 0.3}  # seconds
# A training command ÷ (import torch + training): issue 20's for train and the comparison; the
# sweep's own target is against scikit-learn (the sweep scenario), so it keeps the old 1.5x here.
TRAINING_RATIO = {"train": 1.25, "compare-activations": 1.3, "sweep": 1.5}


def commands_scenario(plan: Plan, scratch: Path) -> Section:
    """Every command as a process against its floor, and where its time goes, phase by phase."""
    cases = commands.cases(scratch, plan.commands_epochs)
    commands.one_round(cases, scratch, plan.commands_epochs)  # the warm-up
    rounds = [
        commands.one_round(cases, scratch, plan.commands_epochs)
        for _ in range(plan.commands_rounds)
    ]
    measured = Measured(rounds)
    rows, targets, phase_rows = [], [], []
    for case in cases:
        floors = [commands.floor(case, r) for r in rounds]
        name = case.floor + (" + training" if case.trains else "")
        rows.append(
            [
                case.name,
                formatted(measured.median(case.name), "s"),
                name,
                formatted(statistics.median(floors), "s"),
                formatted(_ratio_to_floor(measured, case), "x"),
                formatted(_over_floor(measured, case), "s"),
            ]
        )
        over = partial(_over_floor, case=case)
        if case.trains:
            targets.append(Target(f"{case.name} ÷ ({name})", partial(_ratio_to_floor, case=case),
                                  "≤", TRAINING_RATIO[case.name]))  # fmt: skip
        elif case.name in OVER_TORCH:
            targets.append(Target(f"{case.name} - {name}", over, "≤", OVER_TORCH[case.name], "s"))
        elif case.name in AT_MOST:
            targets.append(Target(case.name, seconds_of(case.name), "≤", AT_MOST[case.name], "s"))
    medians = {
        case.name: {
            phase: measured.median(f"{case.name}: {phase}")
            for phase in commands.PHASES
            if f"{case.name}: {phase}" in rounds[0]
        }
        for case in cases
    }
    scale = max((s for phases in medians.values() for s in phases.values()), default=0.0)
    for case in cases:
        for phase, seconds in medians[case.name].items():
            phase_rows.append([case.name, phase, commands.bar(seconds, scale), f"{seconds:.3f} s"])
    title = (
        f"commands: every command as a process against its floor, training commands"
        f" {plan.commands_epochs} epochs, {plan.commands_rounds} rounds"
    )
    notes = [
        "floors: `python -c pass` (the bare interpreter) for the commands that need no torch,"
        ' `python -c "import torch"` for the others, plus the same training in this process'
        " (`engine.fit`) for the three that train; ÷ and - are medians of per-round ratios and"
        " differences. The moons config throughout: train, a sweep of 3 rates, a comparison of"
        " 3 activations x 2 seeds; evaluate, predict (its exported test.csv), split, report and"
        " runs on a finished train run.",
        "phases (medians, `NNCLI_PHASES`, src/nncli/phases.py): "
        + "; ".join(f"{name}: {what}" for name, what in commands.PHASES.items()),
    ]
    header = ["command", "median", "floor", "floor median", "÷ floor", "- floor"]
    section = Section(title, notes, header, rows, measured, targets)
    section.tables.append((["command", "phase", "time", "seconds"], phase_rows, 3))
    return section


def _ratio_to_floor(m: Measured, case: commands.Case) -> float:
    return statistics.median(r[case.name] / commands.floor(case, r) for r in m.rounds)


def _over_floor(m: Measured, case: commands.Case) -> float:
    return statistics.median(r[case.name] - commands.floor(case, r) for r in m.rounds)


def seconds_of(label: str) -> Callable[[Measured], float | None]:
    return lambda m: m.median(label)


# The scenarios `--only` picks from, in the order a full run runs them.
SCENARIOS = (
    "small",
    "medium",
    "large batch",
    "stacked",
    "whole process",
    "commands",
    "per epoch",
    "sweep",
    "wide",
)


def sections(plan: Plan, scratch: Path, only: set[str] | None = None):
    """Every scenario in turn (or those in `only`), as it finishes."""
    chosen = set(SCENARIOS) if only is None else only
    for s in plan.sized:
        if s.name in chosen:
            yield sized_scenario(s, "cpu", sides.sides("cpu"), CPU_TARGETS[s.name])
    if "stacked" in chosen:
        yield stacked_scenario(plan, scratch)
    if "whole process" in chosen:
        yield whole_process_scenario(plan, scratch)
    if "commands" in chosen:
        yield commands_scenario(plan, scratch)
    if "per epoch" in chosen:
        yield per_epoch_scenario(plan, scratch)
    if "sweep" in chosen:
        yield sweep_scenario(plan, scratch)
    if torch.cuda.is_available():
        for s in [*plan.sized, plan.wide]:
            if s.name in chosen:
                yield sized_scenario(s, "cuda", sides.sides("cuda"), GPU_TARGETS[s.name])


def per_epoch_scenario(plan: Plan, scratch: Path) -> Section:
    """`nncli train` and scikit-learn's script on a CSV table, at two epoch counts: what an
    epoch costs each, in CPU seconds (and, for reference, wall seconds)."""
    table = processes.write_table(scratch / "epochs.csv", plan.epoch_rows)
    counts = plan.epoch_counts
    rounds = []
    for _ in range(plan.epoch_rounds):
        seconds = processes.epoch_runs(table, plan.epoch_rows, counts, scratch)
        rounds.append(
            {
                f"{side} per epoch, {clock}": processes.per_epoch(seconds, side, counts, clock)
                for side in ("nncli", "scikit-learn")
                for clock in ("cpu", "wall")
            }
            | seconds
        )
    measured = Measured(rounds)
    rows = []
    for side in ("nncli", "scikit-learn"):
        cells = [formatted(measured.median(f"{side} {e} cpu"), "s") for e in counts]
        rows.append([side, *cells, *(per_step(measured.median(f"{side} per epoch, {clock}"))
                                     for clock in ("cpu", "wall"))])  # fmt: skip
    rows.append(
        [
            "nncli ÷ scikit-learn",
            "",
            "",
            *(
                formatted(
                    measured.ratio(f"nncli per epoch, {c}", f"scikit-learn per epoch, {c}"), "x"
                )
                for c in ("cpu", "wall")
            ),
        ]
    )
    targets = [
        Target(
            "nncli ÷ scikit-learn per epoch (CPU)",
            ratio("nncli per epoch, cpu", "scikit-learn per epoch, cpu"),
            "≤",
            0.7,
        )
    ]
    short, long = counts
    title = (
        f"per epoch: {plan.epoch_rows:,}x20 CSV table, 4 classes → 64-64, batch 32, lr 0.05,"
        f" whole processes at {short} and {long} epochs, {plan.epoch_rounds} rounds"
    )
    notes = [
        "`nncli train` (no early stopping) against `benchmarks/sklearn_fit.py`"
        ' (`MLPClassifier(solver="sgd")`, momentum 0, alpha 0, no early stopping, on as many'
        " rows as nncli's training split); an epoch costs the difference over the epochs"
        f" between ({long - short}). CPU seconds (user + system) are each process's own;"
        " wall seconds also hold its waits for a core on a shared machine"
    ]
    header = ["side", f"{short} epochs, CPU", f"{long} epochs, CPU", "per epoch, CPU",
              "per epoch, wall"]  # fmt: skip
    return Section(title, notes, header, rows, measured, targets)


def sweep_scenario(plan: Plan, scratch: Path) -> Section:
    """18 models (3 lr x 2 weight decays x 3 seeds): `nncli sweep` against scikit-learn
    fitting them one after another, each a whole process."""
    table = processes.write_table(scratch / "sweep.csv", plan.sweep_rows)
    measured = Measured(
        [
            processes.sweep_runs(table, plan.sweep_rows, plan.sweep_epochs, scratch)
            for _ in range(plan.sweep_rounds)
        ]
    )
    sides_ = ("nncli sweep", "scikit-learn, one after another")
    rows = [
        [side, *(formatted(measured.median(f"{side} {c}"), "s") for c in ("cpu", "wall"))]
        for side in sides_
    ]
    rows.append(
        [
            "speed-up",
            *(
                formatted(measured.ratio(f"{sides_[1]} {c}", f"{sides_[0]} {c}"), "x")
                for c in ("cpu", "wall")
            ),
        ]
    )
    targets = [
        Target(
            "scikit-learn ÷ nncli sweep (CPU)",
            ratio(f"{sides_[1]} cpu", f"{sides_[0]} cpu"),
            "≥",
            4.0,
        )
    ]
    title = (
        f"sweep: 18 models (lr x weight decay x 3 seeds) on a {plan.sweep_rows:,}x20 CSV table,"
        f" 64-64, batch 32, {plan.sweep_epochs} epochs, {plan.sweep_rounds} rounds"
    )
    notes = [
        "`nncli sweep --vary training.lr=0.01,0.03,0.1 --vary training.weight_decay=0,0.0001"
        " --seeds 3` (no early stopping; files, figures and report included) against"
        " `benchmarks/sklearn_fit.py` fitting the 18 MLPClassifiers in turn (weight decay as"
        " alpha); CPU seconds and wall seconds of each whole process"
    ]
    return Section(title, notes, ["side", "CPU", "wall"], rows, measured, targets)


def package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine(threads: int) -> list[str]:
    """The machine, its load when the run started, and the versions that matter."""
    cpuinfo = Path("/proc/cpuinfo")
    found = re.search(
        r"^model name\s*:\s*(.+)$", cpuinfo.read_text() if cpuinfo.exists() else "", flags=re.M
    )
    cpu = found.group(1) if found else platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"{time.strftime('%Y-%m-%d %H:%M')}; CPU: {cpu}, {os.cpu_count()} cores, load average"
        f" at start {load}; GPU: {gpu}; {threads} torch thread(s)",
        f"python {platform.python_version()}, torch {torch.__version__}, scikit-learn"
        f" {package('scikit-learn')}, lightning {package('lightning')}, nncli {package('nncli')}",
    ]


def write_docs(lines: list[str], done: list[Section], command: str) -> None:
    """Replace the generated part of docs/benchmarks.md, between its markers."""
    text = DOCS.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOCS}: the markers {BEGIN} and {END} are missing")
    body = "\n\n".join(
        [f"`{command}` on {lines[0]}.", f"{lines[1]}."] + [s.render(markdown=True) for s in done]
    )
    head, rest = text.split(BEGIN, 1)
    DOCS.write_text(f"{head}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}")


def write_docs_sections(done: list[Section]) -> None:
    """Replace only these scenarios' parts of the generated section (`--only`), each found by
    its title up to the first colon ("small (cpu)", "commands"), or add them at its end."""
    text = DOCS.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOCS}: the markers {BEGIN} and {END} are missing")
    head, rest = text.split(BEGIN, 1)
    body, tail = rest.split(END, 1)
    first, *parts = body.strip("\n").split("\n\n#### ")
    for section in done:
        name = section.title.split(":")[0]
        new = section.render(markdown=True).removeprefix("#### ")
        found = [i for i, p in enumerate(parts) if p.split(":")[0] == name]
        if found:
            parts[found[0]] = new
        else:
            parts.append(new)
    body = "\n\n#### ".join([first, *parts])
    DOCS.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help="do not rewrite docs/benchmarks.md (--quick never does)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}; its part of the"
        " docs is replaced, the rest kept",
    )
    args = parser.parse_args()
    # One thread by default: on a small shared machine two OpenMP threads now and then stall a
    # run many times over, and most of these models are too small to gain from more.
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for the commands timed as processes
    lines = machine(args.threads)
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    print("\n".join(lines), end="\n\n", flush=True)
    start, done = time.perf_counter(), []
    with threadpool_limits(args.threads), tempfile.TemporaryDirectory() as scratch:
        only = set(args.only) if args.only else None
        for section in sections(QUICK if args.quick else FULL, Path(scratch), only):
            if only:  # its own date and machine, since the rest of the section keeps theirs
                section.notes.insert(0, f"`{command}` on {lines[0]}.")
            print(section.render(markdown=False), end="\n\n", flush=True)
            done.append(section)
    checks = [met for s in done for met in s.checks()]
    print(
        f"targets met: {checks.count(True)} of {len(checks)} ({checks.count(None)} n/a);"
        f" {time.perf_counter() - start:.0f} s"
    )
    if not args.quick and not args.no_docs:
        if only:
            write_docs_sections(done)
        else:
            write_docs(lines, done, command)
        print(f"wrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

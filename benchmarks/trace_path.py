"""Follow one command through nncli's modules: the path a reader walks, and how often it turns.

    python benchmarks/trace_path.py train configs/moons.yaml --set training.epochs=3 --out /tmp/t

Every Python call inside nncli is recorded with `sys.setprofile` (as the architecture review
measured it), except what runs while a module is imported and what runs inside the training
loop (`fit`), whose per-step calls are the engine's, not the orchestration's. Consecutive calls
in one module count once; a *hop* is a move to another module, and a module is *entered* each
time a hop lands in it. Prints the modules in the order first reached, the hop count and the
entries per module, for every nncli module and for the orchestration modules alone.
"""

from __future__ import annotations

import sys
from collections import Counter

LOOP = ("nncli.train.engine", "fit")  # the training loop: its inside is the engine's business
ORCHESTRATION_PACKAGES = ("nncli.cli", "nncli.app", "nncli.grid", "nncli.runs", "nncli.report")
ORCHESTRATION_MODULES = {"nncli.train.stack", "nncli.train.engine", "nncli.train.parallel"}


def trace(argv: list[str]) -> list[str]:
    """The modules of every nncli call made by `nncli ARGV`, in order, the loop's inside cut."""
    modules: list[str] = []
    inside_loop = 0
    importing = 0  # module bodies running: what they call is set-up, not the command's path

    def profile(frame, event, arg) -> None:
        nonlocal inside_loop, importing
        if event not in ("call", "return"):
            return
        module = frame.f_globals.get("__name__", "")
        if frame.f_code.co_name == "<module>":
            importing += 1 if event == "call" else -1
            return
        if not module.startswith("nncli") or importing:
            return
        is_loop = (module, frame.f_code.co_name) == LOOP
        if event == "return":
            inside_loop -= is_loop
            return
        if inside_loop == 0:
            modules.append(module)
        inside_loop += is_loop

    from nncli.cli import main

    sys.argv = ["nncli", *argv]
    sys.setprofile(profile)
    try:
        main()
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
    return modules


def is_orchestration(module: str) -> bool:
    """The modules that decide what happens next, as the review counted them (the CLI, the use
    cases, grids, run folders, reporting, and the training layer's entry points); the rest
    (config, data, model, metrics, the engine's insides) compute what they are asked."""
    if module.startswith(ORCHESTRATION_PACKAGES):
        return True
    return module in ORCHESTRATION_MODULES


def show(title: str, calls: list[str]) -> None:
    path = [m for i, m in enumerate(calls) if i == 0 or m != calls[i - 1]]
    entries = Counter(path)
    print(f"{title}: {len(path) - 1} hops between {len(entries)} modules", file=sys.stderr)
    print("  path (first reach):", " -> ".join(dict.fromkeys(path)), file=sys.stderr)
    print("  entries:", ", ".join(f"{m} {n}" for m, n in entries.most_common()), file=sys.stderr)


def main() -> None:
    calls = trace(sys.argv[1:])
    show("every nncli module", calls)
    show("orchestration modules", [m for m in calls if is_orchestration(m)])


if __name__ == "__main__":
    main()

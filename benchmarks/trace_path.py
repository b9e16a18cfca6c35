"""Follow one command through nncli's modules: the path a reader walks, and how often it turns.

    python benchmarks/trace_path.py train configs/moons.yaml --set training.epochs=3 --out /tmp/t

Every Python call inside nncli is recorded with `sys.setprofile` (as the architecture review
measured it), except what runs inside the training loop (`fit`), whose per-step calls are the
engine's, not the orchestration's. Consecutive calls in one module count once; a *hop* is a move
to another module, and a module is *entered* each time a hop lands in it. Prints the modules in
the order first reached, the hop count and the entries per module.
"""

from __future__ import annotations

import sys
from collections import Counter

LOOP = ("nncli.train.engine", "fit")  # the training loop: its inside is the engine's business


def trace(argv: list[str]) -> list[str]:
    """The modules of every nncli call made by `nncli ARGV`, in order, the loop's inside cut."""
    modules: list[str] = []
    inside_loop = 0

    def profile(frame, event, arg) -> None:
        nonlocal inside_loop
        if event not in ("call", "return"):
            return
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("nncli"):
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


def main() -> None:
    calls = trace(sys.argv[1:])
    path = [m for i, m in enumerate(calls) if i == 0 or m != calls[i - 1]]
    entries = Counter(path)
    print("path (first reach):", " -> ".join(dict.fromkeys(path)), file=sys.stderr)
    print(f"hops: {len(path) - 1} between {len(entries)} modules", file=sys.stderr)
    for module, count in entries.most_common():
        print(f"  {count:4d}  {module}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Run the nncli CLI and act at a training step the caller chooses: a test's deterministic Ctrl-C.

    python tests/stop_at.py [--rank R] AT ACTION[,ACTION...] -- NNCLI-ARGS...
    python tests/stop_at.py file:NAME ACTION[,ACTION...] -- NNCLI-ARGS...

Training asks its stop request (`interrupts.StopRequest`) once before every step. Just before
the AT-th question (1-based: the first run of a fresh `train` asks it before step AT - 1,
counted across epochs) this process does each ACTION in order, then the question is answered.
AT `loading` does them instead as a built-in data set starts to be generated, before training;
AT `file:NAME` as the trained run asks for its file NAME (`loss.png`, `models/<label>.safetensors`,
`run.json` last), just before it is written (the question is then asked as every file asks it).

- INT, TERM, KILL: `os.kill` itself with that signal, which the real handlers receive (Python
  runs a handler for a signal sent to its own process before `os.kill` returns);
- ctrl-c: SIGINT to its whole process group, as a terminal's Ctrl-C (torchrun and its ranks);
- pause: print `paused` on stdout and wait for a line on stdin, so the test can meet the run
  while it is training at that step, and let it go on.

Under torchrun only rank R (default 0; RANK in the environment) acts. Nothing in nncli is
changed: the patch wraps the stop request's question, the one seam every training path asks
(or, `loading`, each entry of the dataset registry; `file:`, `app.outputs.Outputs`, which every
file of a trained run's outputs is asked for through).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys

from nncli import datasets, interrupts
from nncli.app import outputs
from nncli.cli import main


def act(action: str) -> None:
    if action == "pause":
        print("paused", flush=True)
        sys.stdin.readline()
    elif action == "ctrl-c":
        os.killpg(os.getpgid(0), signal.SIGINT)
    else:
        os.kill(os.getpid(), signal.Signals[f"SIG{action}"])


def stop_at(at: int, actions: list[str]) -> None:
    """Do `actions` just before the `at`-th stop question of this process."""
    ask = interrupts.StopRequest.__call__
    asked = 0

    def question(request: interrupts.StopRequest) -> bool:
        nonlocal asked
        answer = ask(request)  # the first question also marks training as under way
        asked += 1
        if asked == at:
            for action in actions:
                act(action)
            answer = ask(request)
        return answer

    interrupts.StopRequest.__call__ = question


def stop_loading(actions: list[str]) -> None:
    """Do `actions` as any built-in data set starts to load."""

    def wrapped(load):
        def loading(*args):
            for action in actions:
                act(action)
            return load(*args)

        return loading

    for name, spec in datasets.DATASETS.items():
        datasets.DATASETS[name] = dataclasses.replace(spec, load=wrapped(spec.load))


def stop_before_file(name: str, actions: list[str]) -> None:
    """Do `actions` as the trained run asks for its file `name`, before it is written."""
    ask = outputs.Outputs.__call__

    def asking(out: outputs.Outputs, *names: str):
        if "/".join(names) == name:
            for action in actions:
                act(action)
        return ask(out, *names)

    outputs.Outputs.__call__ = asking


if __name__ == "__main__":
    args = sys.argv[1:]
    split = args.index("--")
    ours, sys.argv[1:] = args[:split], args[split + 1 :]
    rank = 0
    if ours[0] == "--rank":
        rank, ours = int(ours[1]), ours[2:]
    at, actions = ours[0], ours[1].split(",")
    if int(os.environ.get("RANK", "0")) != rank:
        pass
    elif at == "loading":
        stop_loading(actions)
    elif at.startswith("file:"):
        stop_before_file(at.removeprefix("file:"), actions)
    else:
        stop_at(int(at), actions)
    main()

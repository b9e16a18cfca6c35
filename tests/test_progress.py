"""Progress written to a pipe or file: throttled plain lines, never the first or last missed."""

from __future__ import annotations

import io

import pytest

from nncli.report.progress import EpochProgress, GridProgress, LineThrottle
from nncli.train.state import EpochReport


def report(epoch: int, epochs: int, active: list[bool] | None = None) -> EpochReport:
    active = [True] if active is None else active
    k = len(active)
    losses = [0.5 - epoch / (10 * epochs)] * k
    return EpochReport(epoch, epochs, "accuracy", losses, [0.9] * k, losses, [0.8] * k, active)


class Clock:
    """A fake monotonic clock that the test moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def shown(epochs: int, seconds_per_epoch: float, stop_at: int | None = None) -> list[int]:
    """The epochs a throttle lets through for a run of that pace (stopping early at `stop_at`)."""
    clock = Clock()
    throttle = LineThrottle(clock)
    lines = []
    for epoch in range(1, (stop_at or epochs) + 1):
        clock.now = epoch * seconds_per_epoch
        if throttle(report(epoch, epochs, [epoch != stop_at])):
            lines.append(epoch)
    return lines


# Paces are binary fractions, so the fake clock adds them up exactly.
@pytest.mark.parametrize(
    ("epochs", "pace", "expected"),
    [
        (100, 2**-10, [1, 100]),  # a 0.1 s run: the first and the last
        (1000, 2**-10, [1, 1000]),  # one second: the first and the last
        (1000, 2**-7, [1, *range(129, 1000, 128), 1000]),  # a second (128 epochs) > 1%
        (200, 2.0, [1, *range(3, 200, 2), 200]),  # slow epochs: one line per 1% (2 epochs)
        (1_000_000, 2**-13, [1, *range(10_001, 1_000_000, 10_000), 1_000_000]),  # 1% > 1 s
        (3, 5.0, [1, 2, 3]),
    ],
)
def test_at_most_one_line_a_second_and_per_percent_always_first_and_last(epochs, pace, expected):
    assert shown(epochs, pace) == expected


def test_the_epoch_where_a_model_stops_always_gets_its_line():
    assert shown(500, 0.001, stop_at=37) == [1, 37]  # early stopping or divergence ends it
    throttle = LineThrottle(Clock())  # the clock stands still: only events get a line
    seen = [throttle(report(e, 500, [True, e < 20, True])) for e in range(1, 40)]
    assert [e for e, line in enumerate(seen, start=1) if line] == [1, 20]  # one of a stack


def test_plain_lines_to_a_file_are_throttled_and_keep_the_last():
    stream = io.StringIO()
    with EpochProgress(stream) as progress:
        for epoch in range(1, 501):
            progress(report(epoch, 500))
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/500", "500/500"]
    assert lines[-1].startswith("epoch 500/500  train_loss 0.4000")


def test_each_stack_of_a_grid_gets_its_first_and_last_line():
    stream = io.StringIO()
    with GridProgress(stream) as progress:
        for stack in range(2):
            progress.start_stack(stack, 2)
            for epoch in range(1, 201):
                progress(report(epoch, 200, [True, True]))
    lines = stream.getvalue().splitlines()
    assert [line.split("  2/2 models")[0] for line in lines] == [
        "stack 1/2  epoch 1/200",
        "stack 1/2  epoch 200/200",
        "stack 2/2  epoch 1/200",
        "stack 2/2  epoch 200/200",
    ]

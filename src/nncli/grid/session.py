"""What one command that trains runs with, made once by the CLI and passed down whole: its place
in a torchrun launch, the stop request it honours, and where its progress and messages go.

It lives in the grid layer, the lowest that takes it (`grid.run.train_grid`), so the app layer,
the CLI and the tests can all build one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from nncli.train.parallel import Ranks

if TYPE_CHECKING:
    from nncli.train.state import EpochReport


@dataclass(frozen=True)
class Setup:
    """What a run trains, said before it starts: plain-text paragraphs, the first opening with
    the run's `title` (its config's name). run.json keeps them for the report page."""

    title: str
    paragraphs: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


class Figures(Protocol):
    """What draws a run's figures (`report.drawing.Drawer`, in worker processes or inline)."""

    def draw(self, plot: Callable[..., None], /, *args: Any, **kwargs: Any) -> None: ...

    def wait(self) -> None: ...


@dataclass(frozen=True)
class Session:
    """A training command's context; every callback is optional (None: nobody listens)."""

    ranks: Ranks = field(default_factory=Ranks.single)
    should_stop: Callable[[], bool] | None = None  # asked before every step: stop and save?
    on_epoch: Callable[[EpochReport], None] | None = None  # each epoch's losses and metrics
    # Each epoch's history rows, with the grid indices of the models they are of (tracking).
    on_rows: Callable[[list[int], list[dict[str, float] | None]], None] | None = None
    on_stack: Callable[[int, int], None] | None = None  # (index, count) as each stack starts
    on_info: Callable[[str], None] | None = None  # plain-text lines: what it is doing
    on_warning: Callable[[str], None] | None = None  # plain-text warnings about the setup
    on_setup: Callable[[Setup], None] | None = None  # what it trains, before it starts
    figures: Figures | None = None  # None: each figure is drawn where it is asked for

    def for_this_rank(self) -> Session:
        """Under torchrun the leader reports for every rank: the others report nothing."""
        if self.ranks.leader:
            return self
        return replace(self, on_epoch=None, on_rows=None, on_stack=None, on_info=None,
                       on_warning=None, on_setup=None)  # fmt: skip

    def epoch_hook(self, models: list[int]) -> Callable[[EpochReport], None] | None:
        """What a stack of these grid models reports each epoch to: the progress, then the
        rows with the models named."""
        on_epoch, on_rows = self.on_epoch, self.on_rows
        if on_rows is None:
            return on_epoch

        def report(epoch: EpochReport) -> None:
            if on_epoch is not None:
                on_epoch(epoch)
            on_rows(models, epoch.rows)

        return report

    def info(self, message: str) -> None:
        if self.on_info is not None:
            self.on_info(message)

    def warn(self, message: str) -> None:
        if self.on_warning is not None:
            self.on_warning(message)

"""What a training command asks for, and a grid made ready to train: shared by a new run
(`app.start`) and a resumed one (`app.resume`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nncli.grid.spec import Grid
from nncli.grid.split import SplitProgress
from nncli.runs.folder import RunFolder
from nncli.runs.follower import Follower
from nncli.runs.layout import RunKind
from nncli.runs.resumable import Saved
from nncli.train.parallel import Ranks, agree

if TYPE_CHECKING:
    from nncli.data.prepared import PreparedData
    from nncli.tracking.client import Tracking


@dataclass(frozen=True)
class GridRequest:
    """What to train: a config file, its overrides and what to vary; or a folder to resume.

    None means "not given": with `resume`, the folder's own settings apply and giving any other
    option is an error; without it, the defaults below apply.
    """

    kind: RunKind  # names the folder and the resume command, and says how it trains
    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    vary: list[str] = field(default_factory=list)
    n_seeds: int | None = None  # default 1
    sequential: bool | None = None  # default False
    diagnostics: bool | None = None  # default False
    out: Path | None = None
    resume: Path | None = None
    max_models: int | None = None  # default grid.spec.MAX_MODELS; a resume keeps its own


@dataclass
class Ready:
    """A grid checked, its data prepared and its folder claimed (or reopened): ready to train."""

    folder: RunFolder | Follower
    grid: Grid
    prepared: dict[str, PreparedData]
    device: str
    diagnostics: bool
    saved: Saved | None = None  # what a resumed run continues from
    split: SplitProgress | None = None  # a sweep split across the processes of a launch
    tracking: Tracking | None = None  # on the leader, when the config turns tracking on


T = TypeVar("T")


def together(ranks: Ranks, work: Callable[[], T]) -> T:
    """`work()`, on every rank of a launch: each goes on only if it succeeded on every rank
    (`parallel.agree`); alone, simply `work()`."""
    try:
        result = work()
    except Exception as exc:
        agree(ranks, exc)
        raise  # not reached: agree raised
    agree(ranks, None)
    return result

"""What every training command shares: build (or rebuild) a grid, check and prepare its data,
claim its run folder, and train its stacks inside the folder's lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nncli import phases
from nncli.app.request import GridRequest
from nncli.app.resume import restart
from nncli.app.start import start
from nncli.app.tracking import end_tracking
from nncli.grid.session import Session
from nncli.grid.spec import Grid
from nncli.runs.folder import RunFolder

if TYPE_CHECKING:
    from nncli.data.prepared import PreparedData


@dataclass
class GridRun:
    folder: RunFolder
    grid: Grid
    prepared: dict[str, PreparedData]
    fits: list
    diagnostics: bool
    device: str  # where it trained: "cpu", "cuda:0"; several stacks' devices joined by ", "
    leader: bool = True  # False on the other ranks of a torchrun launch: they write nothing


@contextmanager
def grid_run(request: GridRequest, session: Session) -> Iterator[GridRun]:
    """Build (or rebuild) the grid, prepare its data, claim the folder, train every stack.

    Everything that can be wrong with the input is found before a folder is created; the body
    of the `with` writes the outputs inside the folder's lifecycle. Under torchrun every rank
    does the same, and goes on only when every rank did: the leader alone reports, claims and
    writes the folder (see `train.parallel`).
    """
    session = session.for_this_rank()
    ready = start(request, session) if request.resume is None else restart(request, session)
    # The training machinery (torch) is imported here, once the grid is valid and its data read.
    from nncli.app.training import train

    phases.mark("imports")

    with ready.folder as folder:
        try:
            fits = train(ready, session)
            phases.mark("training")
            yield GridRun(folder, ready.grid, ready.prepared, fits, ready.diagnostics,
                          ready.device, session.ranks.leader)  # fmt: skip
        except BaseException as exc:
            end_tracking(ready.tracking, exc, [], session)
            raise
        # Finished (run.json says so): the tracking backends get the files and final metrics.
        end_tracking(ready.tracking, None, fits, session)

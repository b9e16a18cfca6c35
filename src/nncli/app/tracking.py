"""A grid run's tracking (TensorBoard, MLflow), from its config to its end: started as soon as
the config is valid (so the worker imports its backends while the command imports torch),
opened once the folder is claimed, fed each epoch's rows, ended with how the run ended.

Only the leader of a torchrun launch tracks: the others hold None.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from nncli.errors import UsageError
from nncli.grid.session import Session
from nncli.grid.spec import Grid
from nncli.metrics import DETAILS
from nncli.tracking.client import Final, Plan, TrackedModel, Tracking

if TYPE_CHECKING:
    from nncli.runs.folder import RunFolder
    from nncli.train.stack import ModelFit

# What TensorBoard's hparams dashboard compares: the network and its training, and the seed.
HPARAM_SECTIONS = ("seed", "model", "training")


def start_tracking(grid: Grid, session: Session) -> Tracking | None:
    """The backends the config turns on checked (a `UsageError` for one that cannot work) and
    their worker started; None when tracking is off, and on the other ranks of a launch."""
    config = grid.base.tracking
    if not session.ranks.leader or not config.backends:
        return None
    varied = [key for key in grid.varied if key.split(".")[0] == "tracking"]
    if varied:
        raise UsageError(
            f"--vary {varied[0]}: tracking is the run's, the same for every model; give it in"
            " the config or with --set"
        )
    return Tracking.start(config, grid.base.name or "run", session.warn)


@contextmanager
def closed_on_error(tracking: Tracking | None) -> Iterator[None]:
    """A run that fails before its runs are opened leaves the worker nothing to write."""
    try:
        yield
    except BaseException:
        if tracking is not None:
            tracking.close()
        raise


def open_tracking(tracking: Tracking | None, folder: RunFolder, grid: Grid, *, resuming: bool):
    """The runs of a claimed (or reopened) folder, one per model of the grid."""
    if tracking is None:
        return
    models = [
        TrackedModel(grid.label(model), flat(model.config.model_dump(mode="json")),
                     hparams(model.config.model_dump(mode="json"), grid.values[model.variant]))
        for model in grid.models
    ]  # fmt: skip
    grid_kind = not folder.kind.single_model
    params = flat(grid.base.model_dump(mode="json"))
    if grid_kind:
        params |= {"vary": " ".join(grid.spec.vary), "seeds": str(grid.spec.n_seeds)}
    tracking.open(Plan(str(folder.path.absolute()), grid_kind, resuming, params, models))


def end_tracking(
    tracking: Tracking | None, error: BaseException | None, fits: list, session: Session
) -> None:
    """The runs ended as the run did: FINISHED with each model's history and final metrics
    (waited for, unless Ctrl-C asks not to), KILLED for a stop, FAILED otherwise."""
    if tracking is None:
        return
    if error is None:
        tracking.finish("FINISHED", [final(fit) for fit in fits], session.should_stop)
        return
    from nncli.train.state import Stopped  # torch: the run trained, or began to

    stopped = isinstance(error, Stopped | KeyboardInterrupt | BrokenPipeError)
    tracking.finish("KILLED" if stopped else "FAILED")


def final(fit: ModelFit) -> Final:
    """A model's history, and every number its kept weights score on each split."""
    metrics = {f"{split}_loss": loss for split, loss in fit.losses.items()}
    for split, scores in fit.metrics.items():
        metrics |= {f"{split}_{name}": value for name, value in scores.items()
                    if name not in DETAILS}  # fmt: skip
    numbers = {key: float(value) for key, value in metrics.items()
               if isinstance(value, int | float) and not isinstance(value, bool)}  # fmt: skip
    return Final(fit.record.history, numbers, fit.record.kept_epoch)


def flat(config: dict) -> dict[str, str]:
    """A resolved config as MLflow parameters: dotted keys, values as text (lists as JSON)."""
    return {key: _text(value) for key, value in flat_values(config).items()}


def hparams(config: dict, varied: dict[str, Any]) -> dict[str, object]:
    """A model's hyperparameters for TensorBoard: its network and training keys, its seed, and
    whatever its grid varies; numbers, booleans and text."""
    chosen = {key: value for key, value in config.items() if key in HPARAM_SECTIONS}
    shown = {key: _number_or_text(value) for key, value in flat_values(chosen).items()}
    return shown | {key: _number_or_text(value) for key, value in varied.items()}


def flat_values(config: dict, prefix: str = "") -> dict[str, Any]:
    """A config's values by dotted key (`training.early_stopping.patience`)."""
    found = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            found |= flat_values(value, f"{prefix}{key}.")
        else:
            found[f"{prefix}{key}"] = value
    return found


def _number_or_text(value: Any) -> object:
    if isinstance(value, bool | int | float | str):
        return value
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))

"""The Optuna side of `nncli tune`: the study opened in its storage, trials asked with their
parameters drawn from the search space, told back as their stack finishes, pruned on their
validation loss per epoch, and read back as rows. The one module that imports optuna (about
0.3 s), and only once the search space and the config are known to be valid.

What a trial's value is: the validation loss of its kept weights (the best epoch's, with early
stopping), averaged over its seeds; lower is better. Each trial records its other scores as
user attribute `scores` (`val_<metric>`, `test_loss`, `test_<metric>`, `epochs`), so that every
process sharing the study reads them; the test scores are reported and never chosen on.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from nncli.config.search import Distribution
from nncli.errors import UsageError

optuna.logging.set_verbosity(optuna.logging.WARNING)  # nncli says what happens, once

# The median pruner judges a trial against the finished ones from its 5th finished trial on,
# and never on its first epoch (epochs count from 1; one epoch says little of where it goes).
PRUNE_AFTER_TRIALS = 5
PRUNE_WARMUP_EPOCHS = 2
# Why a trial failed, as its `reason` attribute says; an interrupted one is asked again.
DIVERGED, INTERRUPTED, INVALID = "diverged", "interrupted", "invalid"


def storage_of(storage: str) -> Any:
    """A database URL (`sqlite:///x.db`, `postgresql://...`) or a journal file's path, opened
    as Optuna's storage: the ones several processes and machines can share."""
    if "://" in storage:
        return optuna.storages.RDBStorage(storage)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(Path(storage).expanduser())))


def opened_storage(storage: str) -> Any:
    """`--storage` opened, or one line saying why it cannot be: before the run folder is
    claimed, so a mistyped URL leaves nothing behind."""
    scheme = storage.split("://", 1)[0]
    try:
        return storage_of(storage)
    except ImportError:  # the URL's database needs a driver module
        reason = f"no driver for {scheme!r} is installed (sqlite:/// needs none)"
    except OSError as exc:  # a journal file's folder missing, or a folder given
        reason = exc.strerror or str(exc)
    except Exception as exc:  # sqlalchemy's, named so that it is imported only with a URL
        kind = type(exc).__name__
        if kind == "NoSuchModuleError":
            reason = f"no database called {scheme!r} (sqlite:///FILE.db, or a journal file)"
        elif kind == "ArgumentError":
            reason = "not a database URL (sqlite:///FILE.db) or a journal file's path"
        elif kind == "OperationalError":
            reason = "cannot open the database: " + str(getattr(exc, "orig", exc)).splitlines()[0]
        else:
            raise
    raise UsageError(f"--storage {storage}: {reason}")


def open_study(
    storage: Any, name: str, *, sampler: str, pruner: str, seed: int | None
) -> optuna.Study:
    """The study `name` in `storage`, made if it is not there yet; `seed` draws its samples."""
    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }
    pruners = {
        "median": lambda: optuna.pruners.MedianPruner(
            n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=PRUNE_WARMUP_EPOCHS
        ),
        "none": optuna.pruners.NopPruner,
    }
    return optuna.create_study(
        storage=storage,
        study_name=name,
        sampler=samplers[sampler](),
        pruner=pruners[pruner](),
        direction="minimize",
        load_if_exists=True,
    )


def trial_count(storage: Any, name: str) -> int:
    """How many trials the study holds already (0 for a study not made yet)."""
    try:
        return len(optuna.load_study(study_name=name, storage=storage).trials)
    except KeyError:
        return 0


def counted(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial counts toward `--trials`: it ran to an end (complete, pruned, diverged,
    refused), not one cut short by an interrupt, which is asked again."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get("reason") == INVALID


class Search:
    """A study searched by this process (`worker`, its run folder): asking, telling, pruning."""

    def __init__(self, study: optuna.Study, space: dict[str, Distribution], worker: str):
        self.study = study
        self.space = space
        self.worker = worker
        self.pruned: dict[int, int] = {}  # trial number -> the epoch it was pruned at

    def counts(self) -> tuple[int, int]:
        """(trials that count toward --trials, trials running now in any process)."""
        trials = self.study.get_trials(deepcopy=False)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        return sum(counted(t) for t in trials), running

    def complete_here(self) -> list[optuna.trial.FrozenTrial]:
        """The complete trials this folder trained (a pruned trial has a value too: its last
        epoch's, which never makes it best)."""
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return [t for t in complete if t.user_attrs.get("worker") == self.worker]

    def retry_abandoned(self) -> int:
        """Trials this folder left running (a killed process): failed, and asked again."""
        stale = [
            t
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.user_attrs.get("worker") == self.worker
        ]
        for trial in stale:
            self.interrupted(trial)
        return len(stale)

    def ask(self, n: int) -> list[tuple[optuna.Trial, dict[str, Any]]]:
        """`n` new trials (waiting ones first: those to ask again) and their parameters."""
        asked = []
        for _ in range(n):
            trial = self.study.ask()
            trial.set_user_attr("worker", self.worker)
            asked.append((trial, {key: _suggest(trial, key, d) for key, d in self.space.items()}))
        return asked

    def report(self, trial: optuna.Trial, epoch: int, val_loss: float) -> bool:
        """Report a trial's validation loss at an epoch; whether the pruner stops it now."""
        if not math.isfinite(val_loss):
            return False
        trial.report(val_loss, epoch)
        if trial.should_prune():
            self.pruned[trial.number] = epoch
            return True
        return False

    def tell(self, trial: optuna.Trial, scores: dict[str, Any], reason: str | None) -> str:
        """Tell a finished trial's outcome; return its state's name.

        A trial that diverged is told PRUNED (its `reason` says why), not FAIL: TPE ignores
        failed trials, so the region that diverges would be drawn again and again, while it
        ranks a pruned trial below every complete one. A refused combination is FAIL.
        """
        trial.set_user_attr("scores", scores)  # one write to the storage, not one per score
        if reason is not None:
            trial.set_user_attr("reason", reason)
        if reason == INVALID:
            self.study.tell(trial, state=TrialState.FAIL)
            return "FAIL"
        if reason == DIVERGED or trial.number in self.pruned:
            self.study.tell(trial, state=TrialState.PRUNED)
            return "PRUNED"
        self.study.tell(trial, scores["val_loss"])
        return "COMPLETE"

    def interrupted(self, trial: optuna.Trial | optuna.trial.FrozenTrial) -> None:
        """A trial cut short: failed without a reason (so it does not count), its parameters
        asked again first, by whichever process of the study asks next."""
        if isinstance(trial, optuna.Trial):
            trial.set_user_attr("reason", INTERRUPTED)
        self.study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        self.study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})

    def rows(self) -> list[dict[str, Any]]:
        """One row per trial of the study (every process's), by number: trials.csv."""
        rows = []
        for trial in self.study.get_trials(deepcopy=False):
            if trial.state == TrialState.WAITING:
                continue
            attrs = dict(trial.user_attrs.get("scores") or {})
            params = {key: _decoded(trial.params.get(key), d) for key, d in self.space.items()}
            row = {
                "trial": trial.number,
                "state": trial.state.name,
                "val_loss": attrs.pop("val_loss", trial.value),
            }
            row |= {key: attrs.pop(key) for key in sorted(attrs, key=_column) if _column(key) < 9}
            row |= params
            row |= {key: trial.user_attrs.get(key) for key in ("reason", "retry_of", "worker")}
            rows.append(row)
        return rows

    def importances(self) -> dict[str, float] | str:
        """How much each searched key matters to the validation loss over the complete trials
        (Optuna's default evaluator, PED-ANOVA: fast, no model fitted), or why there are none."""
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(self.space) < 2:
            return "one key searched: nothing to compare its importance with"
        if len(complete) < 2:
            return "fewer than 2 trials complete"
        return optuna.importance.get_param_importances(self.study)


def sampler_seed(seed: int, shared: bool, existing: int) -> int | None:
    """The sampler's seed: the config's for a new study of its own (so a search repeats);
    another in a shared study or a resumed one, so that processes do not draw the same
    parameters as each other or as before."""
    if not shared and existing == 0:
        return seed
    return (seed * 1_000_003 + existing * 7919 + os.getpid()) % 2**31


def _column(attribute: str) -> int:
    """Where a trial's attribute goes in trials.csv: its scores first, val before test."""
    order = ("val_loss", "val_", "test_loss", "test_", "epochs", "kept_epoch", "best_epoch")
    return next((i for i, prefix in enumerate(order) if attribute.startswith(prefix)), 9)


def _suggest(trial: optuna.Trial, key: str, d: Distribution) -> Any:
    if d.kind == "choice":
        return _decoded(trial.suggest_categorical(key, _choices(d)), d)
    if d.integer:
        return trial.suggest_int(key, int(d.low), int(d.high), log=d.log)
    return trial.suggest_float(key, d.low, d.high, log=d.log)


def _choices(d: Distribution) -> list:
    """A choice's values as Optuna stores them: scalars as they are, lists as JSON text."""
    return [
        v if v is None or isinstance(v, bool | int | float | str) else json.dumps(v)
        for v in d.choices
    ]


def _decoded(value: Any, d: Distribution) -> Any:
    if d.kind != "choice" or value is None:
        return value
    return dict(zip(_choices(d), d.choices, strict=True)).get(value, value)

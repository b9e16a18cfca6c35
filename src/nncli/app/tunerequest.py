"""What `nncli tune` asks for (`TuneRequest`), and its settings checked: the defaults filled in,
the search space read from `--search` and `--space`. No optuna, no torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nncli.config.search import PRUNERS, SAMPLERS, read_space, search_items
from nncli.errors import UsageError
from nncli.grid.spec import MAX_SEEDS

MAX_TRIALS = 100_000
MAX_BATCH = 1_000


@dataclass(frozen=True)
class TuneRequest:
    """What to search; None means "not given" (a resume keeps the folder's own)."""

    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)  # --search KEY=DIST
    space: Path | None = None  # --space FILE.yaml
    trials: int | None = None  # default 20; with --resume, a new total
    batch: int | None = None  # default 8: trials asked, and trained stacked, at once
    seeds: int | None = None  # default 1: models per trial, its value their mean
    sampler: str | None = None  # default tpe
    pruner: str | None = None  # default median
    storage: str | None = None  # default the folder's study.journal
    study: str | None = None  # default the folder's name
    out: Path | None = None
    resume: Path | None = None


DEFAULTS = {"trials": 20, "batch": 8, "seeds": 1, "sampler": "tpe", "pruner": "median"}


def search_texts(request: TuneRequest) -> tuple[dict[str, str], str]:
    """{key: distribution text} from --search and --space, and what to name in messages."""
    texts = search_items(request.search)
    if request.space is None:
        return texts, "--search"
    from_file = read_space(request.space)
    both = sorted(set(texts) & set(from_file))
    if both:
        raise UsageError(f"--search {both[0]}: also in {request.space}; give each key once")
    origin = str(request.space) if not texts else "--search/--space"
    return texts | from_file, origin


def settings(request: TuneRequest) -> dict:
    """The search's settings (run.json's `tune`), defaults filled in, each checked."""
    spec = {
        key: getattr(request, key) if getattr(request, key) is not None else default
        for key, default in DEFAULTS.items()
    }
    spec["trials"] = checked_trials(spec["trials"])
    if not 1 <= spec["batch"] <= MAX_BATCH:
        raise UsageError(f"--batch: must be between 1 and {MAX_BATCH}, got {spec['batch']}")
    if not 1 <= spec["seeds"] <= MAX_SEEDS:
        raise UsageError(f"--seeds: must be between 1 and {MAX_SEEDS}, got {spec['seeds']}")
    for name, names in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if spec[name] not in names:
            raise UsageError(f"--{name}: one of {', '.join(names)}, got {spec[name]!r}")
    spec["storage"] = request.storage
    if request.storage and "://" not in request.storage:  # a journal file: found from anywhere
        spec["storage"] = str(Path(request.storage).expanduser().resolve())
    spec["study"] = request.study
    if request.study is not None and not request.study.strip():
        raise UsageError("--study: give a name")
    if request.storage is not None and not request.storage.strip():
        raise UsageError("--storage: give a journal file or a database URL")
    return spec


def checked_trials(trials: int) -> int:
    if not 1 <= trials <= MAX_TRIALS:
        raise UsageError(f"--trials: must be between 1 and {MAX_TRIALS:,}, got {trials}")
    return trials


def saved_settings(spec: object, folder: Path) -> dict:
    """run.json's `tune` of a folder to resume, checked as a new search's settings are."""
    kinds = {"trials": int, "batch": int, "seeds": int, "sampler": str, "pruner": str,
             "space": dict, "storage": (str, type(None)), "study": (str, type(None))}  # fmt: skip
    if not isinstance(spec, dict) or not all(isinstance(spec.get(k), t) for k, t in kinds.items()):
        raise UsageError(f"{folder}: its run.json's `tune` is malformed; was it edited?")
    request = TuneRequest(**{k: spec[k] for k in ("trials", "batch", "seeds", "sampler", "pruner",
                                                  "storage", "study")})  # fmt: skip
    return settings(request) | {"space": spec["space"], "config": spec.get("config")}

"""The listing of run folders (`nncli runs`): status, data, epochs, differing settings, result."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from pathlib import Path

from nncli.config.yamlfile import read_yaml_mapping
from nncli.errors import UsageError, excerpt, excerpts
from nncli.fileio import read_json_mapping
from nncli.runs import lock
from nncli.runs.layout import CONFIG_FILE, RUN_FILE, TRAIN, run_kind

# Config keys never shown as a difference between runs: they name or place a run, or have their
# own column (data.source), or say where else it is shown (tracking).
NOT_SETTINGS = ("name", "output.dir", "data.source", "tracking")


def list_runs(
    directory: Path,
    *,
    sort: str | None = None,
    source: str | None = None,
    name: str | None = None,
    on_skipped: Callable[[str], None] | None = None,
) -> list[dict]:
    """One record per run folder under `directory` (those with a run.json), newest first.

    `source` keeps runs whose data source (`moons`, `iris.csv`) has that name, or that name
    without the extension, or matches it as a shell pattern; `name` keeps runs whose folder name
    contains it, or matches it as a shell pattern (`moons-*`). Each record's `differs` holds the
    config values (dotted keys) that differ between the listed runs on the same data source.
    A folder whose files cannot be read, or hold fields of the wrong type, is left out, and
    `on_skipped` told why in one line naming it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such runs folder")
    found = []
    for run_json in directory.glob(f"*/{RUN_FILE}"):
        run_dir = run_json.parent
        try:
            found.append(_run_record(run_dir, run_json, sort))
        except (UsageError, OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            # Not a readable run folder: skip it, and say so, rather than fail the listing.
            if on_skipped is not None:
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if not isinstance(exc, UsageError):
                    why = f"malformed files ({why})"
                on_skipped(f"{run_dir}: skipped: {why.removeprefix(f'{run_dir}/')}")
            continue
    found = [
        (record, config)
        for record, config in found
        if (name is None or _name_matches(record["run"], name))
        and (source is None or _source_matches(record["source"], source))
    ]
    flattened = [(record, _settings(config)) for record, config in found]
    records = []
    for source_of in dict.fromkeys(record["source"] for record, _ in found):
        on_it = [(record, values) for record, values in flattened if record["source"] == source_of]
        differing = _differing([values for _, values in on_it])
        for record, values in on_it:
            shown = [k for k in differing if k in values and k not in record["varied"]]
            record["differs"] = {key: values[key] for key in shown}
            records.append(record)
    records.sort(key=lambda r: str(r["created"] or ""), reverse=True)
    if sort is not None:
        known = {name for r in records for name in r["metrics"]}
        if records and sort not in known:
            raise UsageError(
                f"--sort: no run has metric {excerpt(sort)}; known: {excerpts(sorted(known))}"
            )
        from nncli.metrics import METRICS

        sign = -1 if sort in METRICS and METRICS[sort].higher_is_better else 1
        records.sort(key=lambda r: _sort_key(r["chosen_value"], sign))
    return records


def _name_matches(run: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(run, pattern) if _is_pattern(pattern) else pattern in run


def _source_matches(source: str | None, wanted: str) -> bool:
    if source is None:
        return False
    if _is_pattern(wanted):
        return fnmatch.fnmatchcase(source, wanted)
    return wanted in (source, Path(source).stem)


def _is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


def _settings(config: dict, prefix: str = "") -> dict:
    """A config as {dotted key: value}: every leaf, and every mapping (such as
    `training.early_stopping`) as itself, then its keys; minus NOT_SETTINGS."""
    flat: dict = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if dotted in NOT_SETTINGS:
            continue
        flat[dotted] = value
        if isinstance(value, dict):
            flat |= _settings(value, f"{dotted}.")
    return flat


def _differing(settings: list[dict]) -> list[str]:
    """The keys whose values differ between the runs that have them, in config order.

    A mapping differs only in being set or null (`early_stopping` on or off); its keys say the
    rest. A key some runs lack (its mapping is null there, or their nncli had no such key)
    differs only if the runs that have it disagree.
    """
    keys = list(dict.fromkeys(key for values in settings for key in values))
    differing = []
    for key in keys:
        present = {
            "on" if isinstance(v[key], dict) else json.dumps(v[key], sort_keys=True)
            for v in settings
            if key in v
        }
        if len(present) > 1:
            differing.append(key)
    return differing


def shown_settings(records: list[dict]) -> list[str]:
    """Each record's differing values as `nncli runs` shows them: `lr=0.1 width=[8,8]`, a
    mapping `on` where it is set and `off` where it is null."""
    keys = list(dict.fromkeys(key for r in records for key in r["differs"]))
    mappings = {k for r in records for k, v in r["differs"].items() if isinstance(v, dict)}
    return [_shown(r["differs"], keys, mappings) for r in records]


def _shown(differs: dict, keys: list[str], mappings: set[str]) -> str:
    from nncli.config.keys import short_key, shown_value

    parts = []
    for key, value in differs.items():
        if isinstance(value, dict):
            shown = "on"
        elif value is None and key in mappings:
            shown = "off"
        else:
            shown = shown_value(value)
        parts.append(f"{short_key(key, keys)}={shown}")
    return " ".join(parts)


def _sort_key(value: object, sign: int) -> tuple[bool, float]:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return (number is None, sign * (number or 0))


def _value(value: object) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _run_record(run_dir: Path, run_json: Path, sort: str | None) -> tuple[dict, dict]:
    """What `nncli runs` shows of one folder, and its config; raises on anything malformed."""
    from nncli.metrics import DETAILS, headline_metric
    from nncli.tasks import TASKS
    from nncli.train.choice import choice_split

    status = read_json_mapping(run_json)
    # As JSON holds it: a foreign file's YAML dates become text, as --json must print them.
    config = json.loads(json.dumps(_mapping(_read_yaml(run_dir / CONFIG_FILE)), default=str))
    kind = run_kind(status.get("kind")) or TRAIN  # an unknown kind is shown as a single run
    summary = _mapping(_read_json(run_dir / kind.summary_file))
    metrics = summary.get("metrics", {})
    task = summary.get("task")
    if task is not None and (not isinstance(task, str) or task not in TASKS):
        raise UsageError(f"{kind.summary_file}: field task is not a task: {excerpt(task)}")
    activation = config.get("model", {}).get("activation")
    varied = []  # a grid's keys with several values: its config.yaml holds only the base value
    headline = summary.get("headline") or (headline_metric(task) if task else None)
    chosen_by = sort if sort is not None else headline
    if kind.study:  # a search: its best trial, chosen on validation loss, and its scores
        best = _mapping(summary.get("best"))
        trial = best.get("trial")
        activation = f"{kind.name}, best trial {trial} on val loss" if best else kind.name
        varied = [str(key) for key in _mapping(summary.get("space"))]
    elif not kind.single_model:  # no single model: show the chosen variant's means
        results = summary.get("results", [])
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise UsageError(f"{kind.summary_file}: field results is not a list of mappings")
        if results and chosen_by not in results[0].get("metrics", {}).get("train", {}):
            chosen_by = headline  # sorted by a metric this grid lacks: it sorts last, as it is
        best, metrics, why = _best_variant(results, task, chosen_by)
        split_of = choice_split(metrics) if metrics else "val"
        shown = f"best on {split_of} {chosen_by}: {best}" if best else f"no best: {why}"
        activation = f"{kind.name}, {shown}" if best or why else kind.name
        varied = [kind.varies] if kind.varies else summary.get("varied", [])
        if not isinstance(varied, list) or not all(isinstance(key, str) for key in varied):
            raise TypeError("varied is not a list of keys")
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) for m in metrics.values()):
        raise UsageError(f"{kind.summary_file}: field metrics is not a mapping of splits")
    split = "test" if "test" in metrics else "val" if "val" in metrics else "train"
    # What --sort orders by: validation (else training); a record with neither (one written by
    # hand, or by an older nncli) its only split.
    chosen_on = choice_split(metrics) if metrics else None
    if chosen_on is not None and chosen_on not in metrics:
        chosen_on = split
    record = {
        "run": run_dir.name,
        "path": str(run_dir),
        "kind": status.get("kind", TRAIN.name),
        "created": status.get("created"),
        "status": _live_status(status.get("status"), run_dir),
        "task": task,
        "source": Path(str(config.get("data", {}).get("source", ""))).name or None,
        "activation": activation,
        "epochs_run": summary.get("epochs_run"),
        "split": split if metrics else None,
        "headline": headline,
        "metrics": {k: v for k, v in metrics.get(split, {}).items() if k not in DETAILS},
        "chosen_on": chosen_on,
        "chosen_value": _value(metrics.get(chosen_on, {}).get(sort or headline))
        if chosen_on
        else None,
        "device": status.get("device"),
        "varied": list(varied),
    }
    _check_types(record, run_dir, kind.summary_file)
    return record, config


# The type of each field of a record, and the file it comes from (None: the summary file).
_TEXT, _COUNT = (str | None, "text"), (int | None, "an integer")
_FIELD_TYPES = {
    "kind": (_TEXT, RUN_FILE),
    "created": (_TEXT, RUN_FILE),
    "status": (_TEXT, RUN_FILE),
    "device": (_TEXT, RUN_FILE),
    "activation": (_TEXT, CONFIG_FILE),
    "epochs_run": (_COUNT, None),
}


def _check_types(record: dict, run_dir: Path, summary_file: str) -> None:
    """Every field the table and --json show of the type they need, else a UsageError naming
    the file and the field (a `status` that is a list once made the whole listing fail)."""
    for field, ((kind, named), file) in _FIELD_TYPES.items():
        value = record[field]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UsageError(f"{file or summary_file}: field {field} is not {named}")
    for metric, value in record["metrics"].items():
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            split = record["split"]
            raise UsageError(f"{summary_file}: field metrics.{split}.{metric} is not a number")


def _best_variant(
    results: list, task: str | None, metric: str | None
) -> tuple[str | None, dict, str | None]:
    """A sweep's or comparison's variant chosen on validation by `metric` (`train/choice.py`,
    as training chose it), its mean metrics by split, and, when none may be best, why."""
    from nncli.config.keys import variant_label
    from nncli.train.choice import choose_best

    if not task or not results or metric is None:
        return None, {}, None
    choice = choose_best(results, metric)
    if choice["index"] is None:
        return None, {}, "none beat the baseline without diverging"
    best = results[choice["index"]]
    means = {
        split: {name: stats.get("mean") for name, stats in by_metric.items()}
        for split, by_metric in best.get("metrics", {}).items()
    }
    label = best.get("activation") or variant_label(best.get("values", {}))
    return str(label), means, None


def _mapping(value: object) -> dict:
    if not isinstance(value, dict):
        raise TypeError("not a mapping")
    return value


def _read_json(path: Path) -> dict:
    return read_json_mapping(path) if path.exists() else {}


def _read_yaml(path: Path) -> dict:
    return read_yaml_mapping(path, follow_symlinks=False) if path.exists() else {}


def _live_status(recorded: object, run_dir: Path) -> object:
    """run.json's status, unless it says `running` while no process holds the folder's lock:
    its process was killed (-9, a lost machine) before it could record how it ended."""
    if recorded == "running" and lock.abandoned(run_dir):
        return "killed"
    return recorded

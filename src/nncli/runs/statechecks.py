"""Whether a saved training state can be trusted before a resume trains on it: tensors of the
stack's shapes and types, records that make sense for the epoch, finite numbers where training
left them finite. A state that fails is damaged (one line naming the file and the field), never
a divergence blamed on the learning rate."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from nncli.errors import DamagedFileError
from nncli.train.state import ModelRecord, TrainingState


def check_resumable(state: TrainingState, params: list[torch.Tensor]) -> None:
    """What the engine reads of a resumed state, as `save_training_state` writes it for K
    models: a crafted file fails here, as a ValueError, not inside the training loop."""
    k = len(state.records)

    def require(ok: object, what: str) -> None:
        if not ok:
            raise ValueError(f"{what} is malformed")

    def k_list(value: object, test) -> bool:
        return isinstance(value, list) and len(value) == k and all(map(test, value))

    require(k >= 1 and params and len(params) % 2 == 0, "param")
    require(all(p.dtype == torch.float32 and p.dim() >= 2 and len(p) == k for p in params), "param")
    require([p.shape for p in state.best_params] == [p.shape for p in params], "best")
    generator = torch.Generator().get_state()
    require(len(state.shuffler_states) == k and all(
        g.dtype == generator.dtype and g.shape == generator.shape for g in state.shuffler_states
    ), "shuffler")  # fmt: skip
    require(is_int(state.epoch) and state.epoch >= 1, "epoch")
    require(is_int(state.step) and state.step >= 0, "step")
    if state.order is None:
        require(state.step == 0 and state.outputs is None, "step")
    else:
        n = state.order.shape[-1]
        require(state.step < n, "step")  # every step trains at least one sample
        require(state.order.dtype == torch.int64 and state.order.shape == (k, n)
                and torch.equal(state.order.sort(dim=1).values, torch.arange(n).expand(k, n)),
                "order")  # fmt: skip
        outputs = state.outputs
        require(state.step == 0 or (
            outputs is not None and outputs.dim() == 3 and outputs.shape[0] == k
            and outputs.shape[2] == params[len(params) // 2 - 1].shape[1]
            and 0 < outputs.shape[1] <= n), "outputs")  # fmt: skip
    shapes = [p.shape for p in params]  # one buffer per stacked parameter, K = 1 included
    buffers = state.momentum_buffers
    require(len(buffers) == len(params) and all(
        b is None or (b.dtype == torch.float32 and b.shape == shape)
        for b, shape in zip(buffers, shapes, strict=True)), "momentum buffers")  # fmt: skip
    tracker = state.tracker if isinstance(state.tracker, dict) else {}
    epoch = state.epoch
    require(k_list(tracker.get("active"), lambda a: a in (True, False))
            and k_list(tracker.get("best_loss"), lambda v: _is_number(v) and v == v)  # not NaN
            and k_list(tracker.get("best_epoch"), lambda n: is_int(n) and 0 <= n < epoch)
            and k_list(tracker.get("waited"), lambda n: is_int(n) and 0 <= n < epoch),
            "tracker")  # fmt: skip
    for i, (record, active) in enumerate(zip(state.records, tracker["active"], strict=True)):
        _check_record(record, f"records.{i}", epoch=epoch, active=active)
    _check_finite(state, params)
    grads, layers = state.grad_sums, len(params) // 2
    require(grads is None or (grads.dtype == torch.float32 and grads.shape == (layers, k)),
            "grad_sums")  # fmt: skip


def _check_record(record: ModelRecord, where: str, *, epoch: int, active: bool) -> None:
    """A model's record as the engine keeps it: one history row of numbers per epoch it ran,
    every epoch before `epoch` for a model still training."""
    history, ran = record.history, record.epochs_run
    counters = ("best_epoch", "kept_epoch", "epochs_run")
    if not all(is_int(getattr(record, name)) and getattr(record, name) >= 0 for name in counters):
        raise ValueError(f"{where}: its epoch counters are malformed")
    rows = isinstance(history, list) and all(
        isinstance(row, dict) and row.get("epoch") == n
        and all(value is None or _is_number(value) for value in row.values())
        for n, row in enumerate(history, start=1))  # fmt: skip
    if not (rows and len(history) == ran and ran <= epoch - 1 and (ran == epoch - 1 or not active)):
        raise ValueError(f"{where}.history is malformed")
    diverged = record.diverged
    if not (diverged is None or (len(diverged) == 2 and all(map(is_int, diverged)))):
        raise ValueError(f"{where}.diverged is malformed")
    norms = record.grad_norms
    if not (norms is None or (isinstance(norms, list) and all(map(_is_number, norms)))):
        raise ValueError(f"{where}.grad_norms is malformed")


def _check_finite(state: TrainingState, params: list[torch.Tensor]) -> None:
    """What a model still training holds: non-finite numbers where training cannot put them are
    a damaged file, not a learning rate to blame (the resumed run would call it a divergence).

    Its best weights were finite when kept. Non-finite weights, momentum or outputs stay so once
    they appear, and each step's outputs come before its update: between epochs (a model that
    diverged was stopped as its epoch ended) all are finite; within one, non-finite weights must
    show in the outputs of its done steps, and finite weights mean finite momentum and outputs.
    """
    outputs = [state.outputs] if state.step > 0 else []  # (K, step * B, C) of the done steps
    for i, active in enumerate(state.tracker["active"]):
        if not active:
            continue
        bad = _first_not_finite("best.", state.best_params, i)
        if bad is not None:
            raise ValueError(
                f"{bad}: model {i}'s best weights are not finite numbers (a damaged file)"
            )
        weights = _first_not_finite("param.", params, i)
        shown = _first_not_finite("outputs", outputs, i)
        if weights is None:
            bad = _first_not_finite("momentum.", state.momentum_buffers, i) or shown
            if bad is not None:
                raise ValueError(f"{bad}: model {i}'s numbers are not finite while its weights are"
                                 " (a damaged file)")  # fmt: skip
        elif shown is None:
            raise ValueError(
                f"{weights}: model {i}'s weights are not finite numbers (a damaged file)"
            )


def _first_not_finite(prefix: str, tensors: list, k: int) -> str | None:
    """The name of the first of `tensors` whose model `k` holds a NaN or infinity."""
    bad = (j for j, t in enumerate(tensors) if t is not None and not bool(t[k].isfinite().all()))
    j = next(bad, None)
    return None if j is None else prefix + ("" if prefix == "outputs" else str(j))


def check_state_fits(
    path: Path,
    state: TrainingState,
    params: list[torch.Tensor],
    *,
    n_models: int,
    n_train: int,
    batch_size: int,
    sizes: list[int],
    epochs: int,
) -> None:
    """Refuse a saved state that is well formed but not of this stack, before the stack is
    made: its model count, its parameters' shapes (from the stack's layer `sizes`, inputs
    first; its best weights and momentum have theirs), its epoch, its epoch's sample order and
    the outputs of its done steps must fit the stack's config and data. A DamagedFileError:
    the run stays interrupted and resumable."""

    def damaged(what: str) -> DamagedFileError:
        return DamagedFileError(f"{path}: cannot resume from this file: {what}")

    if len(state.records) != n_models:
        raise damaged(f"it holds {len(state.records)} model(s); this stack has {n_models}")
    expected = [(n_models, n_out, n_in) for n_in, n_out in itertools.pairwise(sizes)]
    expected += [(n_models, n_out) for n_out in sizes[1:]]
    shapes = [tuple(p.shape) for p in params]
    if shapes != expected:
        pairs = enumerate(zip(shapes, expected, strict=False))
        j = next((j for j, (a, b) in pairs if a != b), min(len(shapes), len(expected)))
        found = f"param.{j} of shape {shapes[j]}" if j < len(shapes) else f"no param.{j}"
        wanted = f"{expected[j]}" if j < len(expected) else "none"
        raise damaged(f"{found}; the run's layer sizes {sizes} make it {wanted}")
    if state.epoch > epochs + 1:  # epochs + 1: saved as the last epoch ended
        raise damaged(f"epoch {state.epoch} is past the run's training.epochs ({epochs})")
    batch = min(batch_size, n_train)
    fits = state.order is None or (
        state.order.shape[-1] == n_train
        and state.step < -(-n_train // batch)
        and (state.step == 0 or state.outputs.shape[1] == state.step * batch)
    )
    if not fits:
        raise damaged(
            f"its epoch's order and outputs do not fit the run's {n_train} training rows in"
            f" batches of {batch}"
        )


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

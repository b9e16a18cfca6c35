"""The tracker: each model's best epoch, early stopping and divergence, against sequences worked
out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from nncli.model.mlp import StackedMLP
from nncli.train.sgd import SGDSettings
from nncli.train.state import ModelRecord, ModelSettings
from nncli.train.tracker import Tracker


def tracker(*models: tuple[int | None, float], has_val: bool = True) -> Tracker:
    """A tracker of one stacked model per (patience, min_delta)."""
    settings = [
        ModelSettings(seed=i, sgd=SGDSettings(lr=0.1), patience=patience, min_delta=min_delta)
        for i, (patience, min_delta) in enumerate(models)
    ]
    stacked = StackedMLP([2, 3, 2], ["tanh"] * len(models))
    with torch.no_grad():
        for p in stacked.parameters():
            p.fill_(0.0)
    return Tracker(stacked, settings, has_val=has_val)


def run(t: Tracker, losses: list[list[float]]) -> list[list[bool]]:
    """Feed one monitored loss per model per epoch; the active flags after each epoch. Before
    each epoch's update, every weight of the stack is set to the epoch number (as if trained)."""
    flags = []
    for epoch, monitored in enumerate(losses, start=1):
        with torch.no_grad():
            for p in t.model.parameters():
                p.fill_(float(epoch))
        t.update(epoch, monitored)
        flags.append(list(t.active))
    return flags


# Per epoch: model 0 (patience 2) improves at 2, then waits 2 epochs and stops at 4; model 1 (no
# early stopping) sees the same losses and trains on to its best at 5; model 2 (patience 2,
# min_delta 0.1) counts 0.95 as no better than 1.0, improves at 3 (0.85 < 1.0 - 0.1), and stops
# at 5 (0.80 and 0.78 are not below 0.85 - 0.1).
LOSSES = [
    [1.00, 1.00, 1.00],
    [0.80, 0.80, 0.95],
    [0.90, 0.90, 0.85],
    [0.85, 0.85, 0.80],
    [0.70, 0.70, 0.78],
    [0.60, 0.60, 0.10],
]


def test_best_epoch_patience_and_min_delta_by_hand():
    t = tracker((2, 0.0), (None, 0.0), (2, 0.1))
    flags = run(t, LOSSES)
    assert flags == [
        [True, True, True],
        [True, True, True],
        [True, True, True],
        [False, True, True],  # model 0: two epochs without a better loss than 0.80
        [False, True, False],  # model 2: two epochs without one below 0.85 - 0.1
        [False, True, False],  # a stopped model stays stopped, whatever its loss
    ]
    assert t.best_epoch == [2, 6, 3]
    assert t.best_loss == [0.80, 0.60, 0.85]
    assert t.waited == [2, 0, 2]


def test_the_best_weights_are_kept_and_restored_only_for_early_stopping_models():
    t = tracker((2, 0.0), (None, 0.0), (2, 0.1))
    run(t, LOSSES)
    records = [ModelRecord(epochs_run=epochs) for epochs in (4, 6, 5)]
    t.finish(records)
    for layer in t.model.parameters():  # (K, ...): each model's weights hold an epoch number
        assert [set(layer[k].flatten().tolist()) for k in range(3)] == [{2.0}, {6.0}, {3.0}]
    assert [(r.best_epoch, r.kept_epoch) for r in records] == [(2, 2), (6, 6), (3, 3)]

    # Without early stopping the last weights stay, and the kept epoch is the last one run.
    plain = tracker((None, 0.0))
    run(plain, [[1.0], [0.5], [0.9]])
    (record,) = records = [ModelRecord(epochs_run=3)]
    plain.finish(records)
    assert all(set(p.flatten().tolist()) == {3.0} for p in plain.model.parameters())
    assert (record.best_epoch, record.kept_epoch) == (2, 3)


def test_without_a_val_split_patience_does_not_stop_training():
    t = tracker((1, 0.0), has_val=False)
    flags = run(t, [[1.0], [2.0], [3.0], [4.0]])
    assert flags == [[True]] * 4
    assert t.best_epoch == [1] and t.waited == [3]


def test_the_first_epoch_is_always_an_improvement_even_with_a_large_min_delta():
    t = tracker((1, 5.0))
    assert run(t, [[100.0], [99.0]]) == [[True], [False]]
    assert t.best_epoch == [1] and t.best_loss == [100.0]


def test_divergence_names_the_first_non_finite_step_and_stops_only_that_model():
    t = tracker(*[(None, 0.0)] * 4)
    t.active[3] = False  # stopped early before: its losses are no longer looked at
    losses = torch.ones(4, 10)  # (K, N): 10 samples in batches of 4, so steps of 4, 4, 2
    losses[1, 5] = math.inf  # model 1: sample 5, the second step's
    losses[3, 0] = math.nan
    records = [ModelRecord() for _ in range(4)]
    # Model 2's samples are finite but its epoch loss is not (their sum overflowed): the
    # epoch's last step, 3, is named.
    t.record_divergence(7, losses, 4, [1.0, math.inf, math.inf, math.nan], records)
    assert [r.diverged for r in records] == [None, (7, 2), (7, 3), None]
    assert t.active == [True, False, False, False]

    t.update(7, [0.5, 0.1, 0.1, 0.1])  # a diverged model's epoch counts for nothing
    assert t.best_epoch == [7, 0, 0, 0]


def test_an_epoch_with_every_loss_finite_changes_nothing():
    t = tracker((None, 0.0), (None, 0.0))
    records = [ModelRecord(), ModelRecord()]
    t.record_divergence(1, torch.ones(2, 5), 2, [1.0, 1.0], records)
    assert [r.diverged for r in records] == [None, None] and t.active == [True, True]


def test_state_and_load_round_trip_including_the_best_weights():
    t = tracker((2, 0.0), (None, 0.0), (2, 0.1))
    run(t, LOSSES[:4])
    saved, best = t.state(), [p.clone() for p in t.best_params]
    assert saved == {
        "active": [False, True, True],
        "best_loss": [0.80, 0.80, 0.85],
        "best_epoch": [2, 2, 3],
        "waited": [2, 2, 1],
    }

    again = tracker((2, 0.0), (None, 0.0), (2, 0.1))
    again.load(saved, best)
    assert again.state() == saved
    for mine, theirs in zip(again.best_params, best, strict=True):
        assert torch.equal(mine, theirs)
    # Continuing from the loaded state is continuing the original.
    run(again, LOSSES[4:])
    run(t, LOSSES[4:])
    assert again.state() == t.state()


@pytest.mark.parametrize(("patience", "stops_at"), [(1, 2), (3, 4)])
def test_patience_counts_epochs_without_improvement(patience, stops_at):
    t = tracker((patience, 0.0))
    flags = run(t, [[1.0]] * 6)  # never better than the first epoch
    assert [f[0] for f in flags].index(False) + 1 == stops_at


def test_a_diverged_model_keeps_its_last_weights_even_with_early_stopping():
    """Its best epoch's weights may be finite but huge: restored, they would give it metrics,
    and a diverged model is reported as having none."""
    t = tracker((2, 0.0), (2, 0.0))
    run(t, [[1.0, 1.0], [0.5, 0.5], [0.9, 0.9]])
    records = [ModelRecord(epochs_run=3), ModelRecord(epochs_run=3, diverged=(3, 1))]
    t.finish(records)
    for layer in t.model.parameters():
        assert [set(layer[k].flatten().tolist()) for k in range(2)] == [{2.0}, {3.0}]
    assert [(r.best_epoch, r.kept_epoch) for r in records] == [(2, 2), (2, 3)]

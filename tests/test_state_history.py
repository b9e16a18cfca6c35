"""The resumable state's history file (runs/history.py): a save writes what changed since the
one before, never the whole history, and a resume reads back exactly the rows its state counts."""

from __future__ import annotations

import json

import pytest
import torch

from nncli.errors import UsageError
from nncli.model.mlp import StackedMLP
from nncli.runs import history, state
from nncli.runs.history import HistoryJournal, history_path
from nncli.runs.state import load_training_state, save_training_state
from nncli.train.engine import fit
from nncli.train.sgd import SGDSettings
from nncli.train.state import FitOptions, FitSettings, ModelSettings, TrainingState


def tiny_fit(epochs: int, on_checkpoint, k: int = 2) -> list:
    """K tanh models on 12 rows, one step an epoch (a save would cost far more than training)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(12, 2, generator=generator)
    y = (x[:, 0] > 0).long()
    model = StackedMLP.from_seeds([2, 4, 2], ["tanh"] * k, list(range(k)))
    options = FitOptions(
        task="classification",
        settings=FitSettings(batch_size=12, epochs=epochs),
        models=[ModelSettings(seed, SGDSettings(0.1, 0.9)) for seed in range(k)],
    )
    params = list(model.parameters())
    return fit(model, (x, y), (x, y), options, on_checkpoint=lambda s: on_checkpoint(s, params))


def test_a_save_writes_as_much_after_300_epochs_as_after_3(tmp_path, monkeypatch):
    """Every epoch saved, as the folder's saver does (one journal for the run), each save's
    bytes counted where they are written: the state file, the history written anew, the rows
    appended. Before the history had a file of its own, the 300th save wrote 100 times the
    third's (every row so far, deep-copied and serialized)."""
    written: list[int] = []

    def counted(write):
        def counting(*args, **kwargs):
            written.append(len(args[-1]))  # the bytes: each writer's last argument
            return write(*args, **kwargs)

        return counting

    monkeypatch.setattr(state, "atomic_write_bytes", counted(state.atomic_write_bytes))
    monkeypatch.setattr(history, "atomic_write_bytes", counted(history.atomic_write_bytes))
    monkeypatch.setattr(HistoryJournal, "_append", counted(HistoryJournal._append))

    path = tmp_path / "last.safetensors"
    journal = HistoryJournal(history_path(path))
    per_save: dict[int, int] = {}

    def save(saved: TrainingState, params: list[torch.Tensor]) -> None:
        written.clear()
        save_training_state(path, saved, params, {"run": "x"}, history=journal)
        per_save[saved.epoch - 1] = sum(written)

    records = tiny_fit(300, save)
    assert len(records[0].history) == 300
    # The first save writes the history file anew (one row a model), later ones append a row
    # a model: float reprs differ by a few characters, a whole history by thousands.
    assert abs(per_save[300] - per_save[3]) < 200, per_save
    assert per_save[300] < 1.05 * per_save[3], per_save

    # And the state read back holds every row, exactly.
    loaded, _, info = load_training_state(path)
    assert [r.history for r in loaded.records] == [r.history for r in records]
    assert info == {"run": "x"}


def test_rows_after_the_last_saved_state_are_not_read_back(tmp_path):
    """A process killed after a save's rows were appended but before its state was written:
    the state counts the rows it covers, and a resume reads only those; its first save then
    writes the file anew, without the stray rows."""
    path = tmp_path / "last.safetensors"
    journal = HistoryJournal(history_path(path))
    saved = {}

    def save(state_: TrainingState, params: list[torch.Tensor]) -> None:
        if state_.epoch == 4:  # after epoch 3
            save_training_state(path, state_, params, {}, history=journal)
            saved["rows"] = [list(r.history) for r in state_.records]
        elif state_.epoch == 6:  # after epoch 5: its rows land, its state never does
            journal.write(state_.records)

    tiny_fit(5, save)
    lines = history_path(path).read_text().splitlines()
    assert len(lines) == 1 + 2 * 5  # its name, then two models' five epochs: two past the state
    state_, params, _ = load_training_state(path)
    assert [r.history for r in state_.records] == saved["rows"]

    resumed = HistoryJournal(history_path(path))
    save_training_state(path, state_, params, {}, history=resumed)
    assert len(history_path(path).read_text().splitlines()) == 1 + 2 * 3


def saved_state(tmp_path):
    path = tmp_path / "last.safetensors"
    journal = HistoryJournal(history_path(path))

    def save(state_, params):
        save_training_state(path, state_, params, {}, history=journal)

    tiny_fit(3, save)
    return path


def after_header(rows: str):
    """A damage that puts `rows` between the file's first line, which names it, and its rows."""
    return lambda text: text.replace("\n", "\n" + rows, 1)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: "".join(text.splitlines(keepends=True)[:2]), "its history is cut short"),
        (lambda text: "", "Expecting value"),
        (after_header("[7, {}]\n"), "its history names another model"),
        (after_header('[0, {"epoch": "one"}]\n'), "a malformed row"),
        (after_header('[0, {"epoch": true}]\n'), "a malformed row"),
        (after_header("not json\n"), "Expecting value"),
        (after_header("[" * 100_000 + "\n"), "cannot resume from this file"),
        (lambda text: text.replace(text.split('"')[3], "0" * 16, 1), "is another state's"),
    ],
    ids=["cut", "empty", "another-model", "a-string", "a-bool", "not-json", "deeply-nested",
         "another-states"],
)  # fmt: skip
def test_a_damaged_history_file_is_one_line(tmp_path, damage, message):
    path = saved_state(tmp_path)
    rows = history_path(path)
    rows.write_text(damage(rows.read_text()))
    with pytest.raises(UsageError, match=message) as error:
        load_training_state(path)
    assert str(error.value).startswith(f"{path}: cannot resume from this file")


@pytest.mark.parametrize("kind", ["missing", "symlink", "fifo"])
def test_a_history_file_that_is_not_nncli_s_is_refused(tmp_path, kind):
    import os

    path = saved_state(tmp_path)
    rows = history_path(path)
    rows.unlink()
    if kind == "symlink":
        (tmp_path / "elsewhere").write_text(json.dumps(["nncli-history", "x"]) + "\n")
        rows.symlink_to(tmp_path / "elsewhere")
    elif kind == "fifo":
        os.mkfifo(rows)
    with pytest.raises(UsageError) as error:
        load_training_state(path)
    expected = {
        "missing": "training history not found",
        "symlink": "symbolic link",
        "fifo": "a FIFO",
    }
    assert str(error.value).startswith(f"{rows}: ") and expected[kind] in str(error.value)

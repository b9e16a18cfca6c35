"""A resumed run trains what its folder's config.yaml and run.json say, whatever its binary state
file claims: an edited state is refused before any data it names is opened, and data that can
no longer be read is reported without its content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from nncli.app.commands import run_sweep, run_train
from nncli.errors import Interrupted, UsageError
from nncli.grid.session import Session

SECRET = "root:x:0:0:root:/root:/bin/bash"
EDITED = r"does not match its config\.yaml and run\.json"


@pytest.fixture
def interrupted_train(stop_after):
    """`interrupted_train(config, out)`: a run stopped in its second epoch, resumable."""

    def train(config: Path, out: Path) -> Path:
        with pytest.raises(Interrupted):
            run_train(config, [], out=out, session=Session(should_stop=stop_after(30)))
        return out

    return train


def edit_info(folder: Path, change) -> None:
    """Rewrite the `info` JSON inside last.safetensors, as an attacker with the file would."""
    path = folder / "last.safetensors"
    with safe_open(str(path), "pt") as handle:
        metadata = dict(handle.metadata())
    info = json.loads(metadata["info"])
    change(info)
    metadata["info"] = json.dumps(info)
    save_file(load_file(path), path, metadata=metadata)


@pytest.fixture
def secret_file(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(f"{SECRET}\n{SECRET}:more:fields\n")
    return path


def test_a_state_naming_other_data_is_refused_before_that_data_is_read(
    tiny_moons, tmp_path, secret_file, interrupted_train
):
    folder = interrupted_train(tiny_moons, tmp_path / "run")

    def other_data(info):
        info["grid"]["raw"]["data"] = {"source": str(secret_file), "target": "x"}

    edit_info(folder, other_data)
    with pytest.raises(UsageError) as caught:
        run_train(None, [], resume=folder)
    message = str(caught.value)
    assert "does not match its config.yaml and run.json" in message
    assert "/bin/bash" not in message and "0:0" not in message


@pytest.mark.parametrize(
    "change",
    [
        lambda info: info["grid"]["raw"].setdefault("training", {}).update(epochs=3000),
        lambda info: info["grid"].update(vary=["training.epochs=3000"]),
        lambda info: info["grid"].update(n_seeds=2),
        lambda info: info["grid"].update(overrides=["training.lr=0.5"]),
    ],
    ids=["raw-epochs", "vary", "seeds", "overrides"],
)
def test_a_state_that_would_train_something_else_is_refused(
    tiny_moons, tmp_path, change, interrupted_train
):
    folder = interrupted_train(tiny_moons, tmp_path / "run")
    edit_info(folder, change)
    with pytest.raises(UsageError, match=EDITED):
        run_train(None, [], resume=folder)
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"


@pytest.mark.parametrize(
    "grid",
    [None, "a string", {"raw": {}, "extra": 1}, {"raw": [], "config_path": 1}],
    ids=["missing", "string", "extra-key", "wrong-types"],
)
def test_a_malformed_saved_grid_is_one_clear_error(tiny_moons, tmp_path, grid, interrupted_train):
    folder = interrupted_train(tiny_moons, tmp_path / "run")
    edit_info(folder, lambda info: info.update(grid=grid))
    with pytest.raises(UsageError, match="saved training state is malformed"):
        run_train(None, [], resume=folder)


def test_a_sweep_state_varying_other_data_than_run_json_says_is_refused(
    tiny_moons, tmp_path, secret_file, stop_after
):
    out = tmp_path / "sweep"
    with pytest.raises(Interrupted):
        run_sweep(
            tiny_moons,
            [],
            vary=["training.lr=0.1,0.2"],
            out=out,
            session=Session(should_stop=stop_after(30)),
        )
    assert json.loads((out / "run.json").read_text())["grid"] == {
        "vary": ["training.lr=0.1,0.2"],
        "seeds": 1,
        "sequential": False,
    }
    edit_info(out, lambda info: info["grid"].update(vary=[f"data.source={secret_file}"]))
    with pytest.raises(UsageError, match=EDITED):
        run_sweep(None, [], resume=out)


def test_data_that_changed_into_something_unreadable_is_reported_without_its_content(
    write_config, tmp_path, interrupted_train
):
    table = tmp_path / "table.csv"
    table.write_text("a,b,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(200)))
    config = write_config({"data": {"source": str(table), "target": "y"}})
    folder = interrupted_train(config, tmp_path / "run")
    table.write_text(f"{SECRET}\n{SECRET}:x\n")  # the file now holds something else entirely
    with pytest.raises(UsageError) as caught:
        run_train(None, [], resume=folder)
    message = str(caught.value)
    assert "can no longer be read as it was" in message and "/bin/bash" not in message

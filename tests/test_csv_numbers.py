"""A CSV of plain numbers is read by pandas' C parser (issue 20: 50,000 x 20 cells took 2.6 s cell
by cell), and gives exactly what reading every cell as text gives; anything less plain is read
cell by cell, so its problems are named as before (data/csvfile.py `number_table`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.config.data import DataConfig
from nncli.data import csvdata, csvfile
from nncli.errors import UsageError

PLAIN = {
    "commas": "a,b,y\n1.5,-2,cat\n3e-3,4,dog\n-0.25,6,cat\n",
    "spaces, CRLF": "a, b ,y\r\n 1.5,-2,1\r\n3e-3, 4,0\r\n-0.25,6,1\r\n",
    "semicolons, BOM": "\ufeffa;b;y\n1.5;-2;x\n7;4;y\n",
    "integers, one ignored text column": "id,a,b,y\nr1,1,2,3.5\nr2,3,4,1.25\nr3,5,6,0.5\n",
}


def read_both(path: Path, monkeypatch, **data):
    config = DataConfig(source=str(path), **data)
    calls = []
    real = csvfile._read_numbers
    monkeypatch.setattr(csvfile, "_read_numbers", lambda *a: calls.append(a) or real(*a))
    fast = csvdata.read_csv_dataset(config)
    fast_table = calls and real(*calls[0])
    monkeypatch.setattr(csvdata, "number_table", lambda *a: None)  # every cell as text
    slow = csvdata.read_csv_dataset(config)
    return fast, slow, fast_table


@pytest.mark.parametrize("name", list(PLAIN))
def test_plain_numbers_read_fast_equal_every_cell_read_as_text(tmp_path, monkeypatch, name):
    path = tmp_path / "t.csv"
    path.write_bytes(PLAIN[name].encode("utf-8"))
    ignored = ["id"] if name.startswith("integers") else []
    fast, slow, table = read_both(path, monkeypatch, target="y", ignore_columns=ignored)
    assert table is not None and table is not False  # the C parser read it
    pd.testing.assert_frame_equal(fast.features, slow.features)
    assert fast.features.dtypes.eq(np.float64).all()
    assert list(fast.features.index) == list(slow.features.index) == [2, 3, 4][: len(slow.y)]
    np.testing.assert_array_equal(fast.y, slow.y)
    assert (fast.task, fast.classes, fast.notes) == (slow.task, slow.classes, slow.notes)


LESS_PLAIN = {
    "a missing cell": ("a,b,y\n1,,0\n2,3,1\n", {}),
    "a blank line": ("a,b,y\n1,2,0\n\n2,3,1\n", {}),
    "nan": ("a,b,y\n1,nan,0\n2,3,1\n", {}),
    "too large": ("a,b,y\n1,1e400,0\n2,3,1\n", {}),
    "text": ("a,b,y\n1,x,0\n2,3,1\n", {}),
    "True/False": ("a,b,y\n1,True,0\n2,False,1\n", {}),
    "a numeric missing token": ("a,b,y\n1,-999,0\n2,3,1\n", {"missing_values": ["-999"]}),
    "a categorical feature": ("a,b,y\n1,2,0\n2,3,1\n", {"categorical": ["b"]}),
    "a short row": ("a,b,y\n1,2\n2,3,1\n", {}),  # pandas would read y as blank
    "quotes": ('a,b,y\n1,"2",0\n2,3,1\n', {}),  # a quoted field may hold "," or a line break
    "a long row": ("a,b,y\n1,2,0,9\n2,3,1\n", {}),
}


@pytest.mark.parametrize("name", list(LESS_PLAIN))
def test_anything_less_plain_is_read_cell_by_cell_with_the_same_outcome(
    tmp_path, monkeypatch, name
):
    text, data = LESS_PLAIN[name]
    path = tmp_path / "t.csv"
    path.write_text(text)
    config = DataConfig(source=str(path), target="y", **data)
    assert csvfile.number_table(path, config) is None

    def outcome():
        try:
            found = csvdata.read_csv_dataset(config)
        except UsageError as exc:
            return str(exc)
        return found.features.to_dict(), found.y.tolist(), found.notes

    with_fast_path = outcome()
    monkeypatch.setattr(csvdata, "number_table", lambda *a: None)
    assert with_fast_path == outcome()

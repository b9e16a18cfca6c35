"""A safetensors file's header read and checked before its data: every tensor's type, shape and
place in the file, and the memory loading them would take, so that a file too large for this
process, or one whose header lies, is refused before a byte of its data is read."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from nncli.errors import UsageError, clipped, excerpt
from nncli.fileio import read_regular_bytes
from nncli.memory import memory_available

# Bytes per element of each safetensors type nncli may meet; any other type is refused.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1}  # fmt: skip
HEADER_LIMIT = 100 << 20  # safetensors' own limit on a header


@dataclass(frozen=True)
class Header:
    """What a safetensors header says: each tensor's (dtype, shape), the string metadata."""

    tensors: dict[str, tuple[str, tuple[int, ...]]]
    metadata: dict[str, str]
    size: int  # of the whole file, as the header accounts for it

    def load_bytes(self) -> int:
        """Memory that loading the file takes at its peak: the file's bytes, the tensors made of
        them, and float32 copies of those of another type (nncli computes in float32)."""
        converted = sum(
            4 * math.prod(shape) for dtype, shape in self.tensors.values() if dtype != "F32"
        )
        return 2 * self.size + converted


def read_tensor_file(
    path: Path, *, limit: int, what: str, follow_symlinks: bool = False
) -> tuple[bytes, Header]:
    """The bytes of a safetensors file at most `limit` bytes long, and its checked header.

    The header is read and checked first, then the memory loading the file takes is compared
    with what this process can still allocate (a UsageError naming both); only then is the file
    read whole. A malformed header is a ValueError saying what is wrong, for the caller to name
    its file in its own words.
    """
    read = {"limit": limit, "what": what, "follow_symlinks": follow_symlinks}
    start = read_regular_bytes(path, head=8, **read)
    if not start:
        raise UsageError(f"{path}: {what} file is empty")
    if len(start) < 8:
        raise ValueError(f"the file is {len(start)} bytes, too short for a safetensors header")
    length = int.from_bytes(start, "little")
    if length > HEADER_LIMIT:
        raise ValueError(f"its header claims {length:,} bytes; safetensors allows 100 MiB")
    head = read_regular_bytes(path, head=8 + length, **read)
    if len(head) < 8 + length:
        raise ValueError(f"its header claims {length:,} bytes; the file ends before them")
    header = parse_header(head[8:], 8 + length)
    size = os.stat(path, follow_symlinks=follow_symlinks).st_size
    if size != header.size:
        raise ValueError(f"the file is {size:,} bytes; its header accounts for {header.size:,}")
    needed, available = header.load_bytes(), memory_available()
    if needed > available:
        numbers = sum(math.prod(shape) for _, shape in header.tensors.values())
        raise UsageError(
            f"{path}: {what} holds {numbers:,} numbers; loading it takes about"
            f" {needed / 2**30:,.1f} GiB and this process has {available / 2**30:,.1f} GiB free"
        )
    data = read_regular_bytes(path, **(read | {"limit": header.size}))
    if data[: len(head)] != head:
        raise ValueError("the file changed while it was read")
    return data, header


def parse_header(text: bytes, data_start: int) -> Header:
    """A header's JSON, checked: no key twice, known types, shapes of non-negative integers,
    and tensors that tile the data after the header exactly (no gap, overlap or tail)."""

    def unique(pairs: list) -> dict:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            twice = next(key for key in keys if keys.count(key) > 1)
            raise ValueError(f"header: {excerpt(twice)} appears twice")
        return dict(pairs)

    try:
        entries = json.loads(text.decode("utf-8"), object_pairs_hook=unique)
    except UnicodeDecodeError:
        raise ValueError("header: not UTF-8") from None
    except RecursionError:
        raise ValueError("header: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"header: not JSON ({clipped(exc.msg)})") from None
    if not isinstance(entries, dict):
        raise ValueError("header: not a JSON object")
    metadata = entries.pop("__metadata__", None) or {}
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise ValueError("header: __metadata__ is not a mapping of strings")
    tensors, spans = {}, []
    for name, entry in entries.items():
        where = f"header: tensor {excerpt(name)}"
        if not (isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}):
            raise ValueError(f"{where}: not a mapping of dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"{where}: dtype {excerpt(dtype)} is not one nncli reads")
        if not (isinstance(shape, list) and all(_count(n) for n in shape)):
            raise ValueError(f"{where}: shape {excerpt(shape)} is not a list of sizes")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_count, offsets))):
            raise ValueError(f"{where}: data_offsets {excerpt(offsets)} are not two offsets")
        begin, end = offsets
        if end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise ValueError(
                f"{where}: data_offsets span {end - begin:,} bytes; its {dtype} shape"
                f" {excerpt(shape)} takes {math.prod(shape) * DTYPE_BYTES[dtype]:,}"
            )
        tensors[name] = (dtype, tuple(shape))
        spans.append((begin, end))
    at = 0
    for begin, end in sorted(spans):
        if begin != at:
            raise ValueError("header: its tensors' data_offsets overlap or leave a gap")
        at = end
    return Header(tensors, metadata, data_start + at)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

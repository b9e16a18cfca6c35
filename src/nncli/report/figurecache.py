"""Figures that depend only on their inputs: drawn once per machine, copied after that.

`activations.png` shows the same curves in every comparison of the same activations, and
drawing its ten panels took 1.6-2.2 s on the 2-core development machine (2026-12-02); copying
it takes a millisecond. `reused(plot, path, ...)` looks the PNG that `plot(path, ...)` would
write up by a hash of what decides its pixels: the function's module source, its arguments
(plain data, pickled), the fonts module's source and the fonts it found, and matplotlib's
version. Found, the PNG is copied; not found, it is drawn and then stored.

The cache is `$NNCLI_CACHE_DIR`, else `$XDG_CACHE_HOME/nncli/figures` (`~/.cache/nncli/figures`);
`NNCLI_CACHE_DIR=` (empty) turns it off. A cache that cannot be read or written is passed by:
the figure is drawn, as without one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nncli.fileio import atomic_write_bytes
from nncli.report import fonts

CACHE_ENV = "NNCLI_CACHE_DIR"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cache_folder() -> Path | None:
    """Where cached figures live, or None when the cache is off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured).expanduser() if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nncli" / "figures"


def figure_key(plot: Callable[..., None], args: tuple, kwargs: dict) -> str:
    """A hash of everything that decides the pixels of `plot(path, *args, **kwargs)`."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for source in (sys.modules[plot.__module__].__file__, fonts.__file__):
        digest.update(Path(source).read_bytes())
    digest.update(f"{plot.__module__}.{plot.__qualname__}".encode())
    digest.update(version("matplotlib").encode())
    digest.update(repr([str(path) for path in fonts.extra_fonts()]).encode())
    digest.update(pickle.dumps((args, kwargs), protocol=4))
    return digest.hexdigest()[:32]


def reused(plot: Callable[..., None], path: Path, /, *args: Any, **kwargs: Any) -> None:
    """`plot(path, *args, **kwargs)`, or the PNG it drew before with the same inputs."""
    folder = cache_folder()
    if folder is None:
        plot(path, *args, **kwargs)
        return
    cached = folder / f"{figure_key(plot, args, kwargs)}.png"
    try:
        data = cached.read_bytes()
    except OSError:
        data = b""
    if data.startswith(PNG_SIGNATURE):
        atomic_write_bytes(path, data)
        return
    plot(path, *args, **kwargs)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cached, Path(path).read_bytes())
    except OSError:
        pass  # a read-only home, a full disk: the figure is drawn; only the next one pays again

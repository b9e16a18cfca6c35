"""How much memory this machine has, and how much this process can still take: what every check
before a large allocation compares its estimate with (standard library only)."""

from __future__ import annotations

import os
import resource


def memory_bytes() -> int:
    """This machine's physical memory, or the address-space limit (`ulimit -v`) if lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return total if soft == resource.RLIM_INFINITY else min(total, soft)


def memory_available() -> int:
    """What this process can still allocate: the memory not in use (the kernel's MemAvailable),
    or what `ulimit -v` leaves of its address space, whichever is less."""
    available = _proc_kib("/proc/meminfo", "MemAvailable:")
    free = memory_bytes() if available is None else available
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = _proc_kib("/proc/self/status", "VmSize:")
        free = min(free, soft - (used or 0))
    return max(free, 0)


def _proc_kib(path: str, field: str) -> int | None:
    """A `field: N kB` line of a /proc file, in bytes; None where there is no such file."""
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None

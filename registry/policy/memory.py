"""Python's small-object arenas in transparent huge pages, for a process that decides requests.

The policy engine's remembered decisions read a dozen objects chosen at random among the
millions a warmed snapshot holds; with 4 KiB pages most of those reads also miss the CPU's
address-translation cache and walk page tables in memory. `use_huge_page_arenas` makes pymalloc
take its arenas from one region the kernel backs with 2 MiB pages (`_arenas.c`): on the policy
benchmark's steady state, 95,500 decisions per CPU-second without, 109,600 to 112,100 with
(docs/policy.md, fifteenth session). `clearance serve` calls it at start-up unless
`CLEARANCE_HUGE_PAGE_ARENAS=false`; arenas made before keep their pages.
"""

from __future__ import annotations

import re
from pathlib import Path

from registry.policy import _remembered

DEFAULT_RESERVE = 16 << 30
"""Address space set aside for arenas (reserved, not used: pages are backed as arenas are
handed out); arenas beyond it come from mmap as before."""
THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def use_huge_page_arenas(reserve: int = DEFAULT_RESERVE) -> str:
    """From now on, pymalloc's arenas come from a region of `reserve` bytes marked for
    transparent huge pages. Returns "on", or "off: " and why (nothing changed then). Process-wide
    and for the rest of the process's life: call it once, early."""
    mode = transparent_huge_pages()
    if mode not in ("always", "madvise"):
        return f"off: transparent huge pages are {mode}"
    if not _remembered.huge_page_arenas(reserve):
        return "off: the region could not be reserved and marked (mmap or madvise refused)"
    return "on"


def transparent_huge_pages() -> str:
    """The kernel's transparent huge page mode (always, madvise or never), or "unavailable"."""
    try:
        found = re.search(r"\[(\w+)\]", THP_SETTING.read_text())
    except OSError:
        return "unavailable"
    return found.group(1) if found else "unavailable"


def huge_pages_held() -> int:
    """Bytes of this process's memory in transparent huge pages (0 when it cannot tell)."""
    try:
        found = re.search(r"AnonHugePages:\s+(\d+) kB", Path("/proc/self/smaps_rollup").read_text())
    except OSError:
        return 0
    return int(found.group(1)) * 1024 if found else 0


def arenas_in_huge_pages() -> int:
    """pymalloc arenas (1 MiB each) in use that came from the region `use_huge_page_arenas`
    set aside: whether the kernel backs them with huge pages is `huge_pages_held`'s to say."""
    return _remembered.arenas_in_region()

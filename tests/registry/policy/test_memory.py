"""`registry.policy.memory`: Python's arenas in transparent huge pages, in a process of its own
(the change is process-wide and for good)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry.policy.memory import transparent_huge_pages

_DECIDE = """
import sys
from registry.policy.memory import arenas_in_huge_pages, huge_pages_held, use_huge_page_arenas
outcome = use_huge_page_arenas(256 << 20)
assert use_huge_page_arenas(256 << 20) == outcome  # a second call changes nothing
from bench.policy import generate_catalog, generate_requests
from registry.policy import CatalogSnapshot, evaluate
catalog = generate_catalog(3, n_tenants=2_000, n_agreements=20_000)
snapshot = CatalogSnapshot.build(catalog)
requests = generate_requests(catalog, 20_000, seed=5)
decided = [evaluate(r, snapshot) for r in requests] + [evaluate(r, snapshot) for r in requests]
assert decided[:20_000] == decided[20_000:]  # asked again: the same decisions, the same ids
print(outcome, arenas_in_huge_pages(), huge_pages_held(), len({d.decision_id for d in decided}))
"""


ROOT = Path(__file__).resolve().parents[3]


def _run(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_decisions_are_the_same_with_arenas_in_huge_pages() -> None:
    with_pages = _run(_DECIDE)
    without = _run(_DECIDE.replace("use_huge_page_arenas(256 << 20)", "'off:'"))
    assert with_pages[-1] == without[-1] == "20000"  # the same ids, each request asked twice
    mode = transparent_huge_pages()
    if mode in ("always", "madvise"):
        assert with_pages[0] == "on"
        assert int(with_pages[1]) >= 20  # the arenas made since come from the region (1 MiB each)
        # which the kernel backs with 2 MiB pages when it has them free (it nearly always does)
        print("memory in huge pages:", int(with_pages[2]) // 2**20, "MB")
    else:
        assert with_pages[0] == "off:"
    assert without[1] == "0"


def test_an_impossible_reserve_changes_nothing() -> None:
    if transparent_huge_pages() not in ("always", "madvise"):
        pytest.skip("transparent huge pages are off on this machine")
    outcome = _run(
        "from registry.policy.memory import use_huge_page_arenas\n"
        "print(use_huge_page_arenas(1 << 62))\n"
        "print(sum(range(10**6)))"
    )
    assert outcome[0] == "off:"
    assert outcome[-1] == str(sum(range(10**6)))

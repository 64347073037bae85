"""Run every benchmark under bench/ in turn: `python -m bench [NAME ...]`."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.ispkg)
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            sys.argv = [f"python -m bench.{name}"]  # each benchmark parses its own (default) options
            module.main()
        except Exception as exc:  # report and go on with the other benchmarks
            print(f"bench.{name} failed: {exc!r}", flush=True)
            failed.append(name)
        print(f"(bench.{name} took {time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The benchmark's uncached steady state, for counting instructions instead of timing them.

    PYTHONHASHSEED=0 valgrind --tool=callgrind --toggle-collect=functools_reduce \\
        .venv/bin/python -m bench.policy.instructions [--decisions 20000]

The same catalog and traffic as `python -m bench.policy`: the cold requests and the warm-up are
evaluated first, then the first `--decisions` steady-state requests inside one `functools.reduce`,
so that callgrind collects only while they run (`--toggle-collect`); a fixed hash seed keeps the
memos' dicts the same from run to run. On a shared machine the count is what stays comparable
between two versions of the engine; times move with the neighbours.
"""

from __future__ import annotations

import argparse
import functools
import gc

from bench.policy import generate_catalog, generate_requests
from registry.policy import CatalogSnapshot, PolicyDecision, PolicyRequest, evaluate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.policy.instructions")
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    catalog = generate_catalog(args.seed)
    snapshot = CatalogSnapshot.build(catalog)
    cold = generate_requests(catalog, 100_000, seed=11)
    warmup = generate_requests(catalog, 200_000, seed=12)
    steady = generate_requests(catalog, 100_000, seed=13)[: args.decisions]
    gc.collect()
    gc.freeze()
    for request in cold + warmup:
        evaluate(request, snapshot)

    def decide(_: PolicyDecision | None, request: PolicyRequest) -> PolicyDecision:
        return evaluate(request, snapshot)

    functools.reduce(decide, steady, None)
    print(f"{len(steady):,} steady-state decisions counted")


if __name__ == "__main__":
    main()

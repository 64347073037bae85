"""`PolicyEngine` (what the gateway calls) in two or more checkouts, alternating, one process each:

    .venv/bin/python -m bench.policy.engine_compare ROOT [ROOT ...] [--rounds 3] [--warmup N]

ROOT is a checkout (a `git worktree` of an older commit, `.` for this one). Each process builds
the policy benchmark's catalog and snapshot, warms the snapshot with the benchmark's cold traffic
and `--warmup` more requests (`bench.policy`'s, 1,000,000 unless told), then times the uncached
`evaluate` on 100,000 new requests and, on one engine with room for 65,536 decisions, 100,000 more
new requests, none remembered, and the benchmark's 5,000 requests asked again and again, usage
and date moving. Printed: decisions per CPU-second of each run, then the medians per checkout.
The checkouts run in turn, round after round, so a slow spell of a shared machine falls on all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

_MEASURE = """
import gc, json, sys, time
from bench.policy import _metered_repeats, generate_catalog, generate_requests
from registry.policy import CatalogSnapshot, PolicyEngine, evaluate
catalog = generate_catalog(7)
snapshot = CatalogSnapshot.build(catalog)
WARMUP = int(sys.argv[1])
blocks = [(11, 100_000)]
blocks += [(1_000 + i, min(100_000, WARMUP - i * 100_000)) for i in range(-(-WARMUP // 100_000))]
for seed, count in blocks:
    for request in generate_requests(catalog, count, seed=seed):
        evaluate(request, snapshot)
uncached = generate_requests(catalog, 100_000, seed=13)
new = generate_requests(catalog, 100_000, seed=14)
repeated = _metered_repeats(generate_requests(catalog, 5_000, seed=13), 100_000)
gc.collect()
gc.freeze()
engine = PolicyEngine(snapshot, cache_size=65_536)
rates = {}
started = time.process_time()
for request in uncached:
    evaluate(request, snapshot)
rates["uncached"] = len(uncached) / (time.process_time() - started)
for label, requests in (("new", new), ("repeated", repeated)):
    if label == "repeated":
        for request in requests[:5_000]:
            engine.evaluate(request)
    started = time.process_time()
    for request in requests:
        engine.evaluate(request)
    rates[label] = len(requests) / (time.process_time() - started)
print(json.dumps(rates))
"""


def measure(root: Path, warmup: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(warmup)], cwd=root, capture_output=True, text=True, check=True
    )
    rates: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.policy.engine_compare")
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--warmup", type=int, default=1_000_000, help="requests after the first 100,000, as in bench.policy"
    )
    args = parser.parse_args(argv)
    runs: dict[Path, list[dict[str, float]]] = {root: [] for root in args.roots}
    for round_ in range(args.rounds):
        for root in args.roots:
            rates = measure(root, args.warmup)
            runs[root].append(rates)
            print(
                f"round {round_ + 1}, {root}: uncached evaluate {rates['uncached']:,.0f}/CPU-s, engine: "
                f"new requests {rates['new']:,.0f}/CPU-s, repeated {rates['repeated']:,.0f}/CPU-s",
                flush=True,
            )
    for root, rates_of in runs.items():
        print(
            f"median of {len(rates_of)}, {root}: uncached evaluate "
            f"{statistics.median(r['uncached'] for r in rates_of):,.0f}/CPU-s, engine: new requests "
            f"{statistics.median(r['new'] for r in rates_of):,.0f}/CPU-s, repeated "
            f"{statistics.median(r['repeated'] for r in rates_of):,.0f}/CPU-s"
        )


if __name__ == "__main__":
    main()

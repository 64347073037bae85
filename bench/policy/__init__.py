"""Policy engine benchmark: snapshot build and decisions per second on a generated catalog.

    .venv/bin/python -m bench.policy [--decisions N] [--warmup N] [--steady-blocks N] [--seed S]

The catalog has 10,000 artifacts (2,000 base models, 8,000 adapters on them, some on adapters),
1,000 license documents, 100,000 agreements, 10,000 tenants and 100 runners; each decision is a
base model plus three adapters on a runner, for a random tenant, purpose, output use, date and
usage (`generate_requests`). Printed: the snapshot build time; the uncached `evaluate` on
requests it has never seen, right after the build (cold), then the rate of each block of the
warm-up (what the snapshot compiles on first use and remembers makes the same traffic faster as
it goes, until the rate stops climbing), then after the warm-up (steady state), with p50/p99 per
decision, decisions per second of wall time and per CPU-second (the machine may be shared: CPU
time is the closer figure for one idle core) and the time spent in garbage collection; then,
labelled apart, the cached `PolicyEngine` on new and on repeated requests. The steady state and
the engine on new requests are timed in `--steady-blocks` blocks of new requests, each alone, and
their figure is the median block: a slow second of a shared machine moves one block.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Iterator

import msgspec

from registry.catalog.entries import (
    Agreement,
    AgreementCoverage,
    Artifact,
    Catalog,
    LicenseDocument,
    Operator,
    Runner,
    Tenant,
    TenantProfile,
)
from registry.policy import CatalogSnapshot, PolicyEngine, PolicyRequest, evaluate
from registry.policy.memory import huge_pages_held, use_huge_page_arenas
from registry.terms import (
    DerivativeTerms,
    Grant,
    LicenseTerms,
    MauCap,
    NoPaymentReceived,
    Obligation,
    OutputGrant,
    OutputTerms,
    RegistrationRequired,
    RevenueCap,
    UseRestriction,
)
from registry.vocabulary import (
    ArtifactKind,
    BaseRelation,
    GrantStatus,
    HostKind,
    ObligationKind,
    OrganisationType,
    OutputUse,
    Purpose,
    RunnerKind,
    UseCase,
)

N_LICENSES = 1_000
N_BASES = 2_000
N_ADAPTERS = 8_000
N_TENANTS = 10_000
N_AGREEMENTS = 100_000
N_RUNNERS = 100
N_FAMILIES = 200
DATE = dt.date(2026, 11, 26)
PURPOSES = (Purpose.PERSONAL, Purpose.RESEARCH, Purpose.COMMERCIAL_INTERNAL, Purpose.COMMERCIAL_PRODUCT)
OUTPUT_USES = (OutputUse.INTERNAL, OutputUse.PUBLISH, OutputUse.SELL)


def _license(i: int, rng: random.Random) -> LicenseDocument:
    style = i % 4
    commercial: list[Grant] = []
    for purpose in (Purpose.COMMERCIAL_INTERNAL, Purpose.COMMERCIAL_PRODUCT, Purpose.HOSTED_SERVICE):
        if style == 0:  # permissive
            commercial.append(Grant(purpose=purpose, status=GrantStatus.ALLOWED, clause="2"))
        elif style == 1:  # non-commercial, agreement needed
            commercial.append(Grant(purpose=purpose, status=GrantStatus.REQUIRES_AGREEMENT, clause="2(b)"))
        elif style == 2:  # revenue-capped community license
            conditions = (
                RevenueCap(clause="II.b", max_usd=1_000_000),
                RegistrationRequired(clause="II.b", registry=f"licensor-{i % 50}"),
            )
            commercial.append(
                Grant(purpose=purpose, status=GrantStatus.CONDITIONAL, clause="II.b", conditions=conditions)
            )
        else:  # MAU-capped
            conditions_mau = (MauCap(clause="4(c)", max_users=rng.choice((1_000_000, 100_000_000))),)
            commercial.append(
                Grant(
                    purpose=purpose, status=GrantStatus.CONDITIONAL, clause="4(c)", conditions=conditions_mau
                )
            )
    terms = LicenseTerms(
        grants=(
            Grant(
                purpose=Purpose.PERSONAL,
                status=GrantStatus.CONDITIONAL,
                clause="1(c)",
                conditions=(NoPaymentReceived(clause="1(c)"),),
            ),
            Grant(purpose=Purpose.RESEARCH, status=GrantStatus.ALLOWED, clause="1(c)"),
            *commercial,
        ),
        outputs=OutputTerms(
            grants=(
                OutputGrant(
                    use=OutputUse.SELL,
                    status=GrantStatus.CONFLICTING if style == 1 else GrantStatus.ALLOWED,
                    clause="2(d)",
                ),
                OutputGrant(use=OutputUse.TRAIN_COMPETING_MODEL, status=GrantStatus.DENIED, clause="2(d)"),
            )
        ),
        derivatives=DerivativeTerms(inherits=style != 0, clause="2(a)"),
        use_restrictions=(UseRestriction(use_case=UseCase.MILITARY, clause="4(a)"),),
        obligations=(Obligation(kind=ObligationKind.CONTENT_FILTER, clause="2(e)"),) if style == 1 else (),
    )
    return LicenseDocument(
        key=f"license-{i}",
        version="1.0",
        title=f"License {i}",
        licensor=f"Licensor {i % 300}",
        family=f"family-{i % 300}",
        terms=terms,
    )


def generate_catalog(
    seed: int = 7,
    *,
    n_licenses: int = N_LICENSES,
    n_bases: int = N_BASES,
    n_adapters: int = N_ADAPTERS,
    n_tenants: int = N_TENANTS,
    n_agreements: int = N_AGREEMENTS,
    n_runners: int = N_RUNNERS,
) -> Catalog:
    """The benchmark's catalog; the tests build a smaller one with the same shape."""
    rng = random.Random(seed)
    licenses = [_license(i, rng) for i in range(n_licenses)]
    refs = [doc.ref for doc in licenses]
    artifacts: list[Artifact] = []
    for i in range(n_bases):
        artifacts.append(
            Artifact(
                id=f"base-{i}",
                kind=ArtifactKind.BASE_MODEL,
                name=f"Base {i}",
                license=rng.choice(refs),
                family=f"pipe-{i % N_FAMILIES}",
            )
        )
    for i in range(n_adapters):
        # a quarter of the adapters derive from another adapter: two levels of inheritance
        if i >= 100 and i % 4 == 0:
            bases = (f"adapter-{rng.randrange(i)}",)
        else:
            bases = (f"base-{rng.randrange(n_bases)}",)
        artifacts.append(
            Artifact(
                id=f"adapter-{i}",
                kind=ArtifactKind.ADAPTER,
                name=f"Adapter {i}",
                license=rng.choice(refs),
                bases=bases,
                base_relation=BaseRelation.ADAPTER,
            )
        )
    tenants = [
        Tenant(
            id=f"tenant-{i}",
            name=f"Tenant {i}",
            profile=TenantProfile(
                organisation_type=OrganisationType.COMPANY,
                country=rng.choice(("US", "DE", "JP", "GB")),
                annual_revenue_usd=rng.choice((None, 200_000.0, 5_000_000.0)),
                monthly_active_users=rng.choice((1_000, 2_000_000)),
                registrations=tuple(f"licensor-{rng.randrange(50)}" for _ in range(3)),
            ),
        )
        for i in range(n_tenants)
    ]
    agreements = []
    for i in range(n_agreements):
        holder = "operator" if i % 100 == 0 else f"tenant-{rng.randrange(n_tenants)}"
        start = DATE - dt.timedelta(days=rng.randrange(400))
        agreements.append(
            Agreement(
                id=f"agreement-{i}",
                holder=holder,
                licensor="Licensor",
                covers=AgreementCoverage(license_families=(f"family-{rng.randrange(300)}",)),
                purposes=(Purpose.COMMERCIAL_PRODUCT, Purpose.COMMERCIAL_INTERNAL, Purpose.HOSTED_SERVICE),
                valid_from=start,
                valid_until=start + dt.timedelta(days=365),
                monthly_quota=rng.choice((None, 100_000)),
            )
        )
    runners = [
        Runner(
            id=f"runner-{i}",
            kind=RunnerKind.LOCAL_DIFFUSERS,
            host=HostKind.OPERATOR,
            artifacts=tuple(f"base-{j}" for j in range(i, n_bases, n_runners)),
            price_per_image_usd=0.01,
        )
        for i in range(n_runners)
    ]
    return Catalog(
        licenses=tuple(licenses),
        artifacts=tuple(artifacts),
        tenants=tuple(tenants),
        agreements=tuple(agreements),
        runners=tuple(runners),
        operator=Operator(
            profile=TenantProfile(
                country="US",
                annual_revenue_usd=900_000.0,
                monthly_active_users=10_000,
                registrations=("licensor-1",),
            )
        ),
    )


def generate_requests(
    catalog: Catalog, count: int, seed: int = 11, *, stacks: int = 2_000, stack_seed: int = 11
) -> list[PolicyRequest]:
    """A realistic request mix: random tenants, purposes, output uses, dates (three months either
    side of DATE, so agreements start, expire and renew) and usage (half the requests count usage
    on one of the tenant's own agreements, around its quota), a few declared use cases, over
    `stacks` model+3-adapter stacks whose popularity follows a Zipf-like law (real traffic
    concentrates on a few stacks). `stack_seed` fixes which stacks are popular, `seed` the
    requests: two seeds give two different request streams of the same traffic."""
    bases = [a.id for a in catalog.artifacts if a.kind is ArtifactKind.BASE_MODEL]
    adapters = [a.id for a in catalog.artifacts if a.kind is ArtifactKind.ADAPTER]
    tenants = [t.id for t in catalog.tenants]
    runner_of: dict[str, str] = {}
    for runner in catalog.runners:
        for artifact_id in runner.artifacts:
            runner_of.setdefault(artifact_id, runner.id)
    held: dict[str, list[str]] = {}
    for agreement in catalog.agreements:
        held.setdefault(agreement.holder, []).append(agreement.id)
    stack_rng = random.Random(stack_seed)
    popular = [
        (stack_rng.choice(bases), tuple(stack_rng.choice(adapters) for _ in range(3))) for _ in range(stacks)
    ]
    weights = [1 / (rank + 1) for rank in range(stacks)]
    rng = random.Random(seed)
    picks = rng.choices(popular, weights=weights, k=count)
    requests = []
    for model_id, adapter_ids in picks:
        tenant_id = rng.choice(tenants)
        own = held.get(tenant_id)
        usage = {rng.choice(own): rng.randrange(120_000)} if own and rng.random() < 0.5 else {}
        requests.append(
            PolicyRequest(
                tenant_id=tenant_id,
                model_id=model_id,
                adapter_ids=adapter_ids,
                runner_id=runner_of.get(model_id),
                purpose=rng.choice(PURPOSES),
                output_use=rng.choice(OUTPUT_USES),
                date=DATE + dt.timedelta(days=rng.randrange(-90, 90)),
                use_cases=frozenset({UseCase.MILITARY}) if rng.random() < 0.02 else frozenset(),
                usage_this_month=usage,
                max_alternatives=0,
            )
        )
    return requests


class GcPauses:
    """Collections and the time spent in them while a measurement runs (gc.callbacks)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


def _measure(label: str, decide: Callable[[PolicyRequest], object], requests: list[PolicyRequest]) -> float:
    """Prints and returns decisions per second of wall time."""
    return _measure_blocks(label, decide, [requests])


def _measure_blocks(
    label: str, decide: Callable[[PolicyRequest], object], blocks: Iterable[list[PolicyRequest]]
) -> float:
    """One measurement per block of requests, each taken alone: p50/p99 over all of them, and
    decisions per second (wall and CPU) of each block with their medians, so one slow spell of a
    shared machine moves one block, not the figure. Prints and returns the median per second of
    wall time."""
    timings: list[int] = []
    rates: list[tuple[float, float, float, float]] = []  # wall s, CPU s, per wall s, per CPU s
    clock = time.perf_counter_ns
    pauses = GcPauses()  # while a block runs, not while the next is made
    for requests in blocks:
        gc.callbacks.append(pauses)
        try:
            cpu_started = time.process_time()
            started = clock()
            for request in requests:
                t0 = clock()
                decide(request)
                timings.append(clock() - t0)
            wall = (clock() - started) / 1e9
            cpu = time.process_time() - cpu_started
        finally:
            gc.callbacks.remove(pauses)
        rates.append((wall, cpu, len(requests) / wall, len(requests) / cpu))
    timings.sort()
    p50 = timings[len(timings) // 2] / 1000
    p99 = timings[int(len(timings) * 0.99)] / 1000
    wall_rate = statistics.median(r[2] for r in rates)
    cpu_rate = statistics.median(r[3] for r in rates)
    if len(rates) == 1:
        took = f"in {rates[0][0]:.2f} s wall ({rates[0][1]:.2f} s CPU)"
    else:
        each = ", ".join(f"{r[3]:,.0f}" for r in rates)
        took = f"in {len(rates)} blocks (per CPU-second: {each}; medians below)"
    print(
        f"{label}:\n    {len(timings):,} decisions {took}: p50 {p50:.1f} us, p99 {p99:.1f} us, "
        f"{wall_rate:,.0f} decisions/s wall, {cpu_rate:,.0f} per CPU-second; "
        f"{pauses.count} GC runs, {pauses.seconds * 1000:.0f} ms in GC"
    )
    return wall_rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.policy")
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument(
        "--warmup",
        type=int,
        default=1_000_000,
        help="requests after the cold run and before the steady-state run, in blocks of --decisions",
    )
    parser.add_argument(
        "--steady-blocks",
        type=int,
        default=5,
        help="blocks of --decisions new requests timed one by one in the steady state and through "
        "PolicyEngine (their median is the figure)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-huge-pages",
        action="store_true",
        help="leave Python's arenas in 4 KiB pages (by default they are put in transparent huge "
        "pages first, as `clearance serve` does: registry.policy.memory)",
    )
    args = parser.parse_args(argv)
    arenas = "off: --no-huge-pages" if args.no_huge_pages else use_huge_page_arenas()
    print(f"Python's small-object arenas in transparent huge pages: {arenas}")
    t0 = time.perf_counter()
    catalog = generate_catalog(args.seed)
    print(
        f"generated catalog: {len(catalog.artifacts):,} artifacts, {len(catalog.licenses):,} licenses, "
        f"{len(catalog.agreements):,} agreements, {len(catalog.tenants):,} tenants, "
        f"{len(catalog.runners):,} runners ({time.perf_counter() - t0:.1f} s)"
    )
    builds = []
    for _ in range(3):
        t0 = time.perf_counter()
        snapshot = CatalogSnapshot.build(catalog)
        builds.append(time.perf_counter() - t0)
    print(
        f"snapshot build: best {min(builds) * 1000:.0f} ms, median {statistics.median(builds) * 1000:.0f} ms "
        f"(3 builds, version digest included)"
    )
    # The requests measured are made before the collector is frozen (below), as the snapshot:
    # a server holds one request at a time, not lists of them for collections to walk.
    cold = generate_requests(catalog, args.decisions, seed=11)
    steady = generate_requests(catalog, args.decisions, seed=13)
    fresh = generate_requests(catalog, args.decisions, seed=14)
    repeated = _metered_repeats(steady[:5_000], len(steady))
    mix_snapshot = CatalogSnapshot.build(catalog)
    counts: dict[str, int] = {}
    for request in steady[:10_000]:
        decision = evaluate(request, mix_snapshot).decision.value
        counts[decision] = counts.get(decision, 0) + 1
    print("decision mix (10,000 requests):", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    del mix_snapshot
    # The snapshot lives as long as the catalog revision: keep the collector off it, as a server
    # would after loading (gc.freeze); collections still run for the decisions made.
    gc.collect()
    gc.freeze()
    print(
        "uncached evaluate(request, snapshot): every request is new (tenant of 10,000, stack, purpose, "
        "output use, date, usage); what the snapshot compiles on first use (stacks, judgements by the "
        "facts they read) is kept"
    )
    _measure(
        f"  cold: the first {len(cold):,} requests after the snapshot is built",
        lambda r: evaluate(r, snapshot),
        cold,
    )
    warmed = _warm_up(catalog, snapshot, args.warmup, args.decisions, len(cold))
    steady_rate = _measure_blocks(
        f"  steady state: {args.steady_blocks * len(steady):,} new requests after {len(cold) + warmed:,} "
        "others of the same traffic",
        lambda r: evaluate(r, snapshot),
        _blocks(steady, catalog, args.steady_blocks, seeds=20),
    )
    engine = PolicyEngine(snapshot, cache_size=65_536)
    new_rate = _measure_blocks(
        f"cached PolicyEngine.evaluate (what the gateway calls): {args.steady_blocks * len(fresh):,} more "
        "new requests, none of them remembered",
        engine.evaluate,
        _blocks(fresh, catalog, args.steady_blocks, seeds=40),
    )
    for request in repeated[:5_000]:
        engine.evaluate(request)
    repeated_rate = _measure(
        "cached PolicyEngine.evaluate: the same 5,000 requests asked again and again, usage and date moving",
        engine.evaluate,
        repeated,
    )

    print(f"memory in transparent huge pages: {huge_pages_held() / 2**20:,.0f} MB")

    def verdict(rate: float) -> str:
        return f"{rate:,.0f} decisions/s ({'met' if rate >= 100_000 else 'missed'})"

    print(
        f"targets (issue #3): snapshot build {min(builds) * 1000:.0f} ms (under 1,000 ms: "
        f"{'met' if min(builds) < 1 else 'missed'}); 100,000 decisions/s: every request new, uncached "
        f"{verdict(steady_rate)}, through PolicyEngine {verdict(new_rate)}; requests asked again, "
        f"through PolicyEngine {verdict(repeated_rate)}"
    )


def _warm_up(catalog: Catalog, snapshot: CatalogSnapshot, total: int, block: int, before: int) -> int:
    """`total` more new requests of the benchmark's traffic, `block` at a time (each generated
    just before it runs); prints the decisions per CPU-second of each block and the memory the
    process has held. Returns how many requests ran."""
    rates: list[str] = []
    done = 0
    while done < total:
        requests = generate_requests(catalog, min(block, total - done), seed=1_000 + len(rates))
        started = time.process_time()
        for request in requests:
            evaluate(request, snapshot)
        rates.append(f"{len(requests) / (time.process_time() - started):,.0f}")
        done += len(requests)
        del requests
    if rates:
        held = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
        print(
            f"  warm-up: {done:,} new requests after the first {before:,}, in blocks of {block:,}; "
            f"decisions per CPU-second of each block: {', '.join(rates)}; the process has held "
            f"at most {held:,.0f} MB"
        )
    return done


def _blocks(
    first: list[PolicyRequest], catalog: Catalog, count: int, seeds: int
) -> Iterator[list[PolicyRequest]]:
    """`first`, then `count - 1` more blocks of as many new requests (seeds from `seeds` on), each
    made just before it is timed and frozen with the rest (`gc.freeze`), as `first` was: never
    walked by a collection."""
    yield first
    for seed in range(seeds, seeds + count - 1):
        block = generate_requests(catalog, len(first), seed=seed)
        gc.freeze()
        yield block
        del block


def _metered_repeats(distinct: list[PolicyRequest], count: int) -> list[PolicyRequest]:
    """`distinct` requests asked again and again, as a tenant's app does, with the usage counted
    on their agreements growing and the date moving through the month."""
    out = []
    for i in range(count):
        request = distinct[i % len(distinct)]
        rounds = i // len(distinct)
        usage = {agreement: used + rounds for agreement, used in request.usage_this_month.items()}
        out.append(
            msgspec.structs.replace(
                request, usage_this_month=usage, date=request.date + dt.timedelta(days=rounds % 3)
            )
        )
    return out


if __name__ == "__main__":
    main()

"""Recompute the chain and name the first sequence number that does not hold.

What each tamper looks like to the verifier:
- a byte changed in a row: its content no longer gives its stored leaf hash (or, if the forger
  recomputed the hashes, the chain no longer matches a signed checkpoint);
- a row deleted: a gap where the sequence number was expected;
- rows swapped or inserted: the sequence number inside the leaf encoding (or the chain) breaks;
- the tail truncated: a signed checkpoint names a sequence beyond the last row.

Rows are read in keyset chunks straight from the driver and hashed in one tight loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from hashlib import sha256
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.audit.checkpoints import Checkpoint, checkpoint_message, is_signed_by, stored_checkpoints
from registry.audit.errors import UnsupportedDatabaseError
from registry.audit.hashing import ENCODING_VERSION, GENESIS_CHAIN_HASH, LEAF_PREFIX, NODE_PREFIX
from registry.audit.signing import CheckpointVerifier
from registry.audit.tables import AuditAnchorRow, AuditEventRow
from registry.db.engine import create_unpooled_engine

_POSTGRES_CHUNK = (
    "SELECT seq, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), kind, "
    "actor_subject, client_id, tenant, request_id, decision_id, job_id, payload, leaf_hash, chain_hash "
    "FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
)
_SQLITE_CHUNK = (
    "SELECT seq, recorded_at, kind, actor_subject, client_id, tenant, request_id, decision_id, job_id, "
    "CAST(payload AS BLOB), leaf_hash, chain_hash FROM audit_events "
    "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
)
CHUNK_ROWS = 50_000
PARALLEL_FROM = 200_000
"""Chains at least this long are verified by several processes (half the CPUs, at most MAX_WORKERS)."""
MAX_WORKERS = 4
UNBOUNDED = 2**62


class VerificationReport(msgspec.Struct, kw_only=True):
    ok: bool
    first_bad_seq: int | None = None
    """The first sequence number that is missing, altered or out of place."""
    problem: str | None = None
    events_checked: int = 0
    start_seq: int = 1
    """The first sequence the chain should hold (1, or the retention anchor's + 1)."""
    head_seq: int = 0
    head_chain_hash: str = GENESIS_CHAIN_HASH.hex()
    checkpoints_checked: int = 0
    notes: list[str] = msgspec.field(default_factory=list)


class _Failure(Exception):
    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


async def verify_chain(
    engine: AsyncEngine,
    *,
    verifier: CheckpointVerifier | None,
    checkpoint: Checkpoint | None = None,
    workers: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> VerificationReport:
    """Check the whole chain from genesis or from the newest retention anchor.

    `verifier` checks the signatures of the anchor, of the checkpoints stored in the database and
    of `checkpoint` (an exported one, kept outside the database; needs a verifier). Without a
    verifier, stored checkpoints are still compared by chain hash, but not authenticated.
    `workers` processes share the hashing (default: half the CPUs, for chains of PARALLEL_FROM events
    or more); the caller's main module must be import-safe (`if __name__ == "__main__":`).
    """
    report = VerificationReport(ok=True)
    async with engine.connect() as connection:
        try:
            await _verify(connection, report, verifier, checkpoint, workers, chunk_rows)
        except _Failure as failure:
            report.ok = False
            report.first_bad_seq = failure.seq
            report.problem = failure.problem
    return report


async def _verify(
    connection: AsyncConnection,
    report: VerificationReport,
    verifier: CheckpointVerifier | None,
    external: Checkpoint | None,
    workers: int | None,
    chunk_rows: int,
) -> None:
    previous = GENESIS_CHAIN_HASH
    anchor_seq = 0
    anchor = (
        await connection.execute(
            select(
                AuditAnchorRow.seq,
                AuditAnchorRow.chain_hash,
                AuditAnchorRow.signed_at,
                AuditAnchorRow.key_id,
                AuditAnchorRow.signature,
            )
            .order_by(AuditAnchorRow.id.desc())
            .limit(1)
        )
    ).first()
    if anchor is not None:
        anchor_seq, previous = anchor.seq, bytes(anchor.chain_hash)
        if verifier is None:
            report.notes.append("retention anchor not authenticated: no public key given")
        elif anchor.key_id != verifier.key_id or not verifier.is_valid(
            checkpoint_message(anchor.seq, previous, anchor.signed_at), bytes(anchor.signature)
        ):
            raise _Failure(anchor.seq + 1, f"retention anchor at {anchor.seq} has no valid signature")
    report.start_seq = anchor_seq + 1

    expected: dict[int, list[bytes]] = {}
    checkpoints = await stored_checkpoints(connection)
    if external is not None:
        if verifier is None:
            raise _Failure(external.sequence, "checkpoint file given but no public key to verify it")
        checkpoints.append(external)
    for stored in checkpoints:
        if verifier is not None and not is_signed_by(stored, verifier):
            raise _Failure(stored.sequence, f"checkpoint at {stored.sequence} has no valid signature")
        if stored.sequence < anchor_seq:
            if stored is external:
                report.notes.append(f"checkpoint at {stored.sequence} predates the retention anchor")
            continue
        if stored.sequence == anchor_seq and stored.chain_hash_bytes != previous:
            raise _Failure(anchor_seq + 1, f"retention anchor differs from checkpoint at {anchor_seq}")
        expected.setdefault(stored.sequence, []).append(stored.chain_hash_bytes)
    report.checkpoints_checked = len(checkpoints)

    head = (await connection.execute(select(func.max(AuditEventRow.seq)))).scalar_one_or_none() or anchor_seq
    if workers is None:
        # Half the CPUs at most: the database server is working for us too.
        cpus = os.cpu_count() or 1
        workers = max(1, min(cpus // 2, MAX_WORKERS)) if head - anchor_seq >= PARALLEL_FROM else 1
    ranges = _split(anchor_seq, head, max(1, workers))
    walked = await _walk_ranges(connection, ranges, previous, expected, chunk_rows)
    failures = [walk.failure for walk in walked if walk.failure is not None]
    report.events_checked = sum(walk.checked for walk in walked)
    if failures:
        raise _Failure(*min(failures))
    head, previous = walked[-1].last_seq, walked[-1].previous
    report.head_seq, report.head_chain_hash = head, previous.hex()
    beyond = [seq for seq in expected if seq > head]
    if beyond:
        raise _Failure(head + 1, f"chain ends at {head} but a signed checkpoint covers {max(beyond)}")


class _Walk(msgspec.Struct, frozen=True):
    """One range's outcome: where it ended, the chain hash there, and its first failure."""

    last_seq: int
    previous: bytes
    checked: int
    failure: tuple[int, str] | None


def _split(after: int, last: int, parts: int) -> list[tuple[int, int]]:
    """(after, last] in contiguous ranges; the last one open-ended, for events appended meanwhile."""
    size = max(1, -(-(last - after) // parts))
    bounds = [(lo, min(lo + size, last)) for lo in range(after, last, size)] or [(after, last)]
    return [*bounds[:-1], (bounds[-1][0], UNBOUNDED)]


async def _walk_ranges(
    connection: AsyncConnection,
    ranges: list[tuple[int, int]],
    previous: bytes,
    expected: dict[int, list[bytes]],
    chunk_rows: int,
) -> list[_Walk]:
    """The first range here; the others in worker processes, each starting from the chain hash
    stored at its lower bound. That is sound: the range before checks that stored hash (and that
    it ends exactly there), so the first failure over all ranges is the chain's first failure."""
    if len(ranges) == 1:
        return [await _walk(connection, *ranges[0], previous, expected, chunk_rows)]
    url = connection.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=context) as pool:
        others = [
            asyncio.wrap_future(
                pool.submit(
                    _walk_in_process,
                    url,
                    lo,
                    hi,
                    {s: c for s, c in expected.items() if lo < s <= hi},
                    chunk_rows,
                )
            )
            for lo, hi in ranges[1:]
        ]
        first = await _walk(connection, *ranges[0], previous, expected, chunk_rows)
        try:
            return [first, *await asyncio.gather(*others)]
        except BrokenProcessPool:  # e.g. a main module that is not import-safe: do it here
            return [
                first,
                *[
                    await _walk_from_stored_start(connection, lo, hi, expected, chunk_rows)
                    for lo, hi in ranges[1:]
                ],
            ]


def _walk_in_process(url: str, lo: int, hi: int, expected: dict[int, list[bytes]], chunk_rows: int) -> _Walk:
    async def walk() -> _Walk:
        engine = create_unpooled_engine(url)
        try:
            async with engine.connect() as connection:
                return await _walk_from_stored_start(connection, lo, hi, expected, chunk_rows)
        finally:
            await engine.dispose()

    return asyncio.run(walk())


async def _walk_from_stored_start(
    connection: AsyncConnection, lo: int, hi: int, expected: dict[int, list[bytes]], chunk_rows: int
) -> _Walk:
    start = (
        await connection.execute(select(AuditEventRow.chain_hash).where(AuditEventRow.seq == lo))
    ).scalar_one_or_none()
    # A missing start row is the previous range's failure (it must end at `lo`).
    previous = bytes(start) if start is not None else GENESIS_CHAIN_HASH
    return await _walk(connection, lo, hi, previous, expected, chunk_rows)


async def _walk(
    connection: AsyncConnection,
    after: int,
    last: int,
    previous: bytes,
    expected: dict[int, list[bytes]],
    chunk_rows: int,
) -> _Walk:
    fetch = await _chunk_reader(connection)
    sqlite = connection.dialect.name == "sqlite"
    head, checked = after, 0
    # The next chunk is read (by the database, the driver's thread or socket) while this one is hashed.
    upcoming: asyncio.Task[list[Any]] | None = asyncio.create_task(fetch(head, last, chunk_rows))
    try:
        while upcoming is not None:
            rows = await upcoming
            upcoming = None
            if len(rows) == chunk_rows:
                upcoming = asyncio.create_task(fetch(rows[-1][0], last, chunk_rows))
                await asyncio.sleep(0)
            if rows:
                head, previous = _check_rows(rows, head, previous, expected, sqlite)
                checked += len(rows)
    except _Failure as failure:
        return _Walk(head, previous, checked, (failure.seq, failure.problem))
    finally:
        if upcoming is not None:
            upcoming.cancel()
            await asyncio.gather(upcoming, return_exceptions=True)
    if last != UNBOUNDED and head != last:
        return _Walk(head, previous, checked, (head + 1, f"event {head + 1} is missing"))
    return _Walk(head, previous, checked, None)


def _check_rows(
    rows: list[Any], head: int, previous: bytes, expected: dict[int, list[bytes]], sqlite: bool
) -> tuple[int, bytes]:
    """The hot loop: every name is local, every call a C function."""
    encode = msgspec.json.encode
    raw = msgspec.Raw
    leaf_prefix, node_prefix, version = LEAF_PREFIX, NODE_PREFIX, ENCODING_VERSION
    seq = head
    for row in rows:
        seq += 1
        if row[0] != seq:
            if row[0] > seq:
                raise _Failure(seq, f"event {seq} is missing (next row is {row[0]})")
            raise _Failure(seq, f"event {row[0]} is out of order after {seq - 1}")
        stamp = row[1]
        if sqlite:
            if len(stamp) != 26 or stamp[10] != " ":
                raise _Failure(seq, f"event {seq} has a timestamp not in its stored form")
            stamp = f"{stamp[:10]}T{stamp[11:]}Z"
        leaf = sha256(
            leaf_prefix
            + encode(
                (version, seq, stamp, row[2], row[3], row[4], row[5], row[6], row[7], row[8], raw(row[9]))
            )
        ).digest()
        if leaf != row[10]:
            raise _Failure(seq, f"event {seq} does not match its leaf hash (content altered)")
        previous = sha256(node_prefix + previous + leaf).digest()
        if previous != row[11]:
            raise _Failure(seq, f"event {seq} does not match its chain hash")
        signed = expected.get(seq)
        if signed is not None and any(chain != previous for chain in signed):
            raise _Failure(seq, f"chain at {seq} differs from its signed checkpoint")
    return seq, previous


async def _chunk_reader(connection: AsyncConnection) -> Callable[[int, int, int], Any]:
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    dialect = connection.dialect.name
    if dialect == "postgresql":

        async def fetch_postgres(after: int, last: int, limit: int) -> list[Any]:
            return list(await driver.fetch(_POSTGRES_CHUNK, after, last, limit))

        return fetch_postgres
    if dialect == "sqlite":

        async def fetch_sqlite(after: int, last: int, limit: int) -> list[Any]:
            async with driver.execute(_SQLITE_CHUNK, (after, last, limit)) as cursor:
                return list(await cursor.fetchall())

        return fetch_sqlite
    raise UnsupportedDatabaseError(f"the audit log supports PostgreSQL and SQLite, not {dialect}")

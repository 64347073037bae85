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
from collections.abc import Callable
from hashlib import sha256
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.audit.checkpoints import Checkpoint, checkpoint_message, is_signed_by, stored_checkpoints
from registry.audit.errors import UnsupportedDatabaseError
from registry.audit.hashing import ENCODING_VERSION, GENESIS_CHAIN_HASH, LEAF_PREFIX, NODE_PREFIX
from registry.audit.signing import CheckpointVerifier
from registry.audit.tables import AuditAnchorRow

_POSTGRES_CHUNK = (
    "SELECT seq, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), kind, "
    "actor_subject, client_id, tenant, request_id, decision_id, job_id, payload, leaf_hash, chain_hash "
    "FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
)
_SQLITE_CHUNK = (
    "SELECT seq, recorded_at, kind, actor_subject, client_id, tenant, request_id, decision_id, job_id, "
    "CAST(payload AS BLOB), leaf_hash, chain_hash FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?"
)
CHUNK_ROWS = 50_000


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
    chunk_rows: int = CHUNK_ROWS,
) -> VerificationReport:
    """Check the whole chain from genesis or from the newest retention anchor.

    `verifier` checks the signatures of the anchor, of the checkpoints stored in the database and
    of `checkpoint` (an exported one, kept outside the database; needs a verifier). Without a
    verifier, stored checkpoints are still compared by chain hash, but not authenticated.
    """
    report = VerificationReport(ok=True)
    async with engine.connect() as connection:
        try:
            await _verify(connection, report, verifier, checkpoint, chunk_rows)
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

    fetch = await _chunk_reader(connection)
    sqlite = connection.dialect.name == "sqlite"
    head = anchor_seq
    # The next chunk is read (by the database, the driver's thread or socket) while this one is hashed.
    upcoming: asyncio.Task[list[Any]] | None = asyncio.create_task(fetch(head, chunk_rows))
    try:
        while upcoming is not None:
            rows = await upcoming
            upcoming = None
            if len(rows) == chunk_rows:
                upcoming = asyncio.create_task(fetch(rows[-1][0], chunk_rows))
                await asyncio.sleep(0)
            if rows:
                head, previous = _check_rows(rows, head, previous, expected, sqlite)
                report.events_checked += len(rows)
    finally:
        if upcoming is not None:
            upcoming.cancel()
            await asyncio.gather(upcoming, return_exceptions=True)
    report.head_seq, report.head_chain_hash = head, previous.hex()
    beyond = [seq for seq in expected if seq > head]
    if beyond:
        raise _Failure(head + 1, f"chain ends at {head} but a signed checkpoint covers {max(beyond)}")


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


async def _chunk_reader(connection: AsyncConnection) -> Callable[[int, int], Any]:
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    dialect = connection.dialect.name
    if dialect == "postgresql":

        async def fetch_postgres(after: int, limit: int) -> list[Any]:
            return list(await driver.fetch(_POSTGRES_CHUNK, after, limit))

        return fetch_postgres
    if dialect == "sqlite":

        async def fetch_sqlite(after: int, limit: int) -> list[Any]:
            async with driver.execute(_SQLITE_CHUNK, (after, limit)) as cursor:
                return list(await cursor.fetchall())

        return fetch_sqlite
    raise UnsupportedDatabaseError(f"the audit log supports PostgreSQL and SQLite, not {dialect}")

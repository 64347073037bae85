"""Retention: purge the events older than a policy date, and re-anchor the chain.

In one transaction, under the chain lock: sign the chain state of the last purged event and keep
it as an anchor, delete the prefix through the privileged path (PostgreSQL: the SECURITY DEFINER
function `audit_purge_through`; SQLite: a clearance row the delete trigger looks for), append a
`retention.purge` event that says what went, and sign a checkpoint after it. Verification then
starts from the anchor.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.audit.chain import Clock, append_on_connection, lock_chain, utc_now
from registry.audit.checkpoints import Checkpoint, sign_checkpoint, store_checkpoint
from registry.audit.errors import PurgeError
from registry.audit.events import AppendedEvent, EventKind, NewEvent
from registry.audit.hashing import timestamp_text
from registry.audit.signing import CheckpointSigner
from registry.audit.tables import AuditAnchorRow, AuditEventRow, AuditPurgeClearanceRow


class PurgeReport(msgspec.Struct, kw_only=True, frozen=True):
    purged_events: int
    through_seq: int
    anchor: Checkpoint
    """The signed chain state at `through_seq`, where verification now starts."""
    purge_event: AppendedEvent
    checkpoint: Checkpoint
    """Signed right after the purge event: export it to keep proof of the new head."""


async def purge_before(
    engine: AsyncEngine,
    before: dt.datetime,
    *,
    signer: CheckpointSigner,
    actor_subject: str | None,
    clock: Clock = utc_now,
) -> PurgeReport:
    """Purge every event recorded before `before` (UTC); raises `PurgeError` if there is none."""
    if before.tzinfo is None:
        raise PurgeError("the purge date needs a time zone (UTC)")
    now = clock()
    if before > now:
        raise PurgeError(f"refusing to purge up to {before.isoformat()}, which is in the future")
    async with engine.begin() as connection:
        await lock_chain(connection)
        through = (
            await connection.execute(
                select(func.max(AuditEventRow.seq)).where(AuditEventRow.recorded_at < before)
            )
        ).scalar_one_or_none()
        if through is None:
            raise PurgeError(f"no audit events recorded before {timestamp_text(before)}")
        chain_at_through = (
            await connection.execute(select(AuditEventRow.chain_hash).where(AuditEventRow.seq == through))
        ).scalar_one()
        anchor = sign_checkpoint(signer, through, bytes(chain_at_through), now)
        await connection.execute(
            insert(AuditAnchorRow),
            {
                "seq": anchor.sequence,
                "chain_hash": anchor.chain_hash_bytes,
                "signed_at": anchor.signed_at,
                "key_id": anchor.key_id,
                "signature": anchor.signature_bytes,
                "purged_before": before,
            },
        )
        purged = await _delete_through(connection, through)
        event = NewEvent(
            kind=EventKind.RETENTION_PURGE,
            actor_subject=actor_subject,
            payload={
                "before": timestamp_text(before),
                "purged_through_seq": through,
                "purged_events": purged,
                "anchor_chain_hash": anchor.chain_hash,
                "anchor_key_id": anchor.key_id,
            },
        )
        (appended,) = await append_on_connection(connection, [event], clock=clock)
        checkpoint = sign_checkpoint(signer, appended.seq, appended.chain_hash, appended.recorded_at)
        await store_checkpoint(connection, checkpoint)
    return PurgeReport(
        purged_events=purged, through_seq=through, anchor=anchor, purge_event=appended, checkpoint=checkpoint
    )


async def _delete_through(connection: AsyncConnection, through: int) -> int:
    if connection.dialect.name == "postgresql":
        purged = await connection.execute(text("SELECT audit_purge_through(:seq)"), {"seq": through})
        return int(purged.scalar_one())
    await connection.execute(insert(AuditPurgeClearanceRow), {"through_seq": through})
    result = await connection.execute(delete(AuditEventRow).where(AuditEventRow.seq <= through))
    await connection.execute(delete(AuditPurgeClearanceRow))
    return int(result.rowcount)

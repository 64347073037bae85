"""The mutation suite: every kind of tampering is detected at the right sequence number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import (
    AppendedEvent,
    AuditLog,
    CheckpointSigner,
    export_checkpoint,
    read_checkpoint_file,
    verify_chain,
)
from registry.audit.hashing import chain_hash, event_encoding, leaf_hash, timestamp_text

Append = Callable[[int], Awaitable[list[AppendedEvent]]]
Tamper = Callable[..., Awaitable[None]]

# Each tamper: SQL an attacker with write access would run on a chain of 20 events.
SWAP_7_AND_8 = (
    "UPDATE audit_events SET seq = -7 WHERE seq = 7",
    "UPDATE audit_events SET seq = 7 WHERE seq = 8",
    "UPDATE audit_events SET seq = 8 WHERE seq = -7",
)
INSERT_AT_7 = (
    "UPDATE audit_events SET seq = -(seq + 1) WHERE seq >= 7",
    "UPDATE audit_events SET seq = -seq WHERE seq < 0",
    "INSERT INTO audit_events (seq, recorded_at, kind, actor_subject, client_id, tenant, request_id, "
    "decision_id, job_id, payload, leaf_hash, chain_hash) SELECT 7, recorded_at, kind, actor_subject, "
    "client_id, tenant, request_id, decision_id, job_id, payload, leaf_hash, chain_hash "
    "FROM audit_events WHERE seq = 6",
)
TAMPERS: dict[str, tuple[tuple[str, ...], int]] = {
    "payload byte changed": (
        ("UPDATE audit_events SET payload = replace(payload, 'allow', 'allOw') WHERE seq = 7",),
        7,
    ),
    "kind changed": (("UPDATE audit_events SET kind = 'policy.decisioN' WHERE seq = 12",), 12),
    "tenant changed": (("UPDATE audit_events SET tenant = 'other' WHERE seq = 3",), 3),
    "null id filled": (("UPDATE audit_events SET job_id = 'job-x' WHERE seq = 15",), 15),
    "stored leaf hash changed": (("UPDATE audit_events SET leaf_hash = chain_hash WHERE seq = 9",), 9),
    "first row deleted": (("DELETE FROM audit_events WHERE seq = 1",), 1),
    "middle row deleted": (("DELETE FROM audit_events WHERE seq = 7",), 7),
    "rows swapped": (SWAP_7_AND_8, 7),
    "row inserted": (INSERT_AT_7, 7),
}


async def test_each_tamper_is_found_at_its_sequence_number(
    audit_engine: AsyncEngine, append_events: Append, tamper: Tamper, signer: CheckpointSigner
) -> None:
    found: dict[str, int | None] = {}
    for name, (statements, _) in TAMPERS.items():
        await tamper("DELETE FROM audit_events", "DELETE FROM audit_checkpoints")  # a fresh chain each
        await append_events(20)
        assert (await verify_chain(audit_engine, verifier=signer)).ok
        await tamper(*statements)
        found[name] = (await verify_chain(audit_engine, verifier=signer)).first_bad_seq
    assert found == {name: bad_seq for name, (_, bad_seq) in TAMPERS.items()}


async def test_timestamp_changed_is_found(
    audit_engine: AsyncEngine, append_events: Append, tamper: Tamper, signer: CheckpointSigner
) -> None:
    events = await append_events(20)
    moved = timestamp_text(
        events[4].recorded_at.replace(microsecond=(events[4].recorded_at.microsecond + 1) % 10**6)
    )
    literal = moved.replace("T", " ").rstrip("Z")
    if audit_engine.dialect.name == "postgresql":
        literal += "+00:00"
    await tamper(f"UPDATE audit_events SET recorded_at = '{literal}' WHERE seq = 5")
    report = await verify_chain(audit_engine, verifier=signer)
    assert (report.ok, report.first_bad_seq) == (False, 5)


async def test_truncated_tail_is_found_against_an_exported_checkpoint(
    audit_engine: AsyncEngine, append_events: Append, tamper: Tamper, signer: CheckpointSigner, tmp_path: Path
) -> None:
    await append_events(20)
    async with AuditLog(audit_engine, signer=signer) as log:
        checkpoint = await log.checkpoint()
    assert checkpoint is not None
    assert checkpoint.sequence == 20
    export_checkpoint(checkpoint, tmp_path / "cp.json")
    # The attacker removes the tail and the stored checkpoints that would betray it.
    await tamper("DELETE FROM audit_events WHERE seq >= 18", "DELETE FROM audit_checkpoints")
    assert (await verify_chain(audit_engine, verifier=signer)).ok  # undetectable without the file
    report = await verify_chain(
        audit_engine, verifier=signer, checkpoint=read_checkpoint_file(tmp_path / "cp.json")
    )
    assert (report.ok, report.first_bad_seq) == (False, 18)


async def test_truncated_tail_is_found_against_a_stored_checkpoint(
    audit_engine: AsyncEngine, append_events: Append, tamper: Tamper, signer: CheckpointSigner
) -> None:
    await append_events(20)
    async with AuditLog(audit_engine, signer=signer) as log:
        await log.checkpoint()
    await tamper("DELETE FROM audit_events WHERE seq >= 15")
    report = await verify_chain(audit_engine, verifier=signer)
    assert (report.ok, report.first_bad_seq) == (False, 15)


async def test_history_rewritten_with_recomputed_hashes_is_found_at_the_next_checkpoint(
    audit_engine: AsyncEngine, append_events: Append, tamper: Tamper, signer: CheckpointSigner
) -> None:
    events = await append_events(10)
    async with AuditLog(audit_engine, signer=signer) as log:
        await log.checkpoint()
    events += await append_events(10)
    # Rewrite event 4 and recompute every hash after it: consistent, but not what was signed at 10.
    statements, previous = [], events[2].chain_hash
    for event in events[3:]:
        payload = (
            event.payload.replace('"decision":"allow"', '"decision":"deny"')
            if event.seq == 4
            else event.payload
        )
        leaf = leaf_hash(
            event_encoding(
                event.seq,
                timestamp_text(event.recorded_at),
                event.kind,
                event.actor_subject,
                event.client_id,
                event.tenant,
                event.request_id,
                event.decision_id,
                event.job_id,
                payload,
            )
        )
        previous = chain_hash(previous, leaf)
        statements.append(
            f"UPDATE audit_events SET payload = '{payload}', leaf_hash = {_blob(audit_engine, leaf)}, "
            f"chain_hash = {_blob(audit_engine, previous)} WHERE seq = {event.seq}"
        )
    await tamper(*statements)
    report = await verify_chain(audit_engine, verifier=signer)
    assert (report.ok, report.first_bad_seq) == (False, 10)


async def test_forged_checkpoint_signature_is_found(
    audit_engine: AsyncEngine, append_events: Append, tamper: Tamper, signer: CheckpointSigner
) -> None:
    await append_events(5)
    async with AuditLog(audit_engine, signer=signer) as log:
        await log.checkpoint()
    await tamper(
        "UPDATE audit_checkpoints SET signed_at = signed_at + interval '1 second'"
        if audit_engine.dialect.name == "postgresql"
        else "UPDATE audit_checkpoints SET key_id = 'someone-else'"
    )
    report = await verify_chain(audit_engine, verifier=signer)
    assert (report.ok, report.first_bad_seq) == (False, 5)


def _blob(engine: AsyncEngine, value: bytes) -> str:
    if engine.dialect.name == "postgresql":
        return f"decode('{value.hex()}', 'hex')"
    return f"X'{value.hex()}'"


async def test_verification_split_over_processes_finds_the_same_first_bad_event(
    audit_engine: AsyncEngine, append_events: Append, tamper: Tamper, signer: CheckpointSigner
) -> None:
    await append_events(20)
    async with AuditLog(audit_engine, signer=signer) as log:
        await log.checkpoint()
    intact = await verify_chain(audit_engine, verifier=signer, workers=2)
    assert (intact.ok, intact.events_checked, intact.head_seq) == (True, 20, 20)
    assert (
        intact.head_chain_hash
        == (await verify_chain(audit_engine, verifier=signer, workers=1)).head_chain_hash
    )
    await tamper("UPDATE audit_events SET tenant = 'x' WHERE seq = 15")  # in the second process's range
    assert (await verify_chain(audit_engine, verifier=signer, workers=2)).first_bad_seq == 15
    await tamper("DELETE FROM audit_events WHERE seq = 10")  # the last row of the first range
    assert (await verify_chain(audit_engine, verifier=signer, workers=2)).first_bad_seq == 10

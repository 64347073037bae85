"""Signed checkpoints: an Ed25519 signature over (sequence, chain hash, time).

A checkpoint exported to a file and kept outside the database lets `verify` prove that the chain
still holds everything up to that sequence (a truncated tail or a rewritten history shows).
The signed message is the JSON array `["clearance.audit.checkpoint.v1", seq, "<chain hex>",
"<time as YYYY-MM-DDTHH:MM:SS.ffffffZ>"]`, exactly as msgspec writes it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from pathlib import Path

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.audit.errors import CheckpointFileError
from registry.audit.hashing import timestamp_text
from registry.audit.signing import CheckpointSigner, CheckpointVerifier
from registry.audit.tables import AuditCheckpointRow

CHECKPOINT_DOMAIN = "clearance.audit.checkpoint.v1"


class Checkpoint(msgspec.Struct, kw_only=True, frozen=True):
    """Also the exported file's JSON shape (`chain_hash` in hex, `signature` in base64)."""

    sequence: int
    chain_hash: str
    signed_at: dt.datetime
    key_id: str
    signature: str

    @property
    def chain_hash_bytes(self) -> bytes:
        return bytes.fromhex(self.chain_hash)

    @property
    def signature_bytes(self) -> bytes:
        return base64.b64decode(self.signature)


def checkpoint_message(sequence: int, chain_hash: bytes, signed_at: dt.datetime) -> bytes:
    return msgspec.json.encode([CHECKPOINT_DOMAIN, sequence, chain_hash.hex(), timestamp_text(signed_at)])


def sign_checkpoint(
    signer: CheckpointSigner, sequence: int, chain_hash: bytes, signed_at: dt.datetime
) -> Checkpoint:
    signature = signer.sign(checkpoint_message(sequence, chain_hash, signed_at))
    return Checkpoint(
        sequence=sequence,
        chain_hash=chain_hash.hex(),
        signed_at=signed_at,
        key_id=signer.key_id,
        signature=base64.b64encode(signature).decode(),
    )


def is_signed_by(checkpoint: Checkpoint, verifier: CheckpointVerifier) -> bool:
    if checkpoint.key_id != verifier.key_id:
        return False
    message = checkpoint_message(checkpoint.sequence, checkpoint.chain_hash_bytes, checkpoint.signed_at)
    return verifier.is_valid(message, checkpoint.signature_bytes)


async def store_checkpoint(connection: AsyncConnection, checkpoint: Checkpoint) -> None:
    await connection.execute(
        insert(AuditCheckpointRow),
        {
            "seq": checkpoint.sequence,
            "chain_hash": checkpoint.chain_hash_bytes,
            "signed_at": checkpoint.signed_at,
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature_bytes,
        },
    )


async def stored_checkpoints(connection: AsyncConnection, *, newest_first: bool = False) -> list[Checkpoint]:
    order = AuditCheckpointRow.id.desc() if newest_first else AuditCheckpointRow.id
    rows = await connection.execute(select(*_COLUMNS).order_by(order))
    return [_from_columns((row[0], row[1], row[2], row[3], row[4])) for row in rows]


_COLUMNS = (
    AuditCheckpointRow.seq,
    AuditCheckpointRow.chain_hash,
    AuditCheckpointRow.signed_at,
    AuditCheckpointRow.key_id,
    AuditCheckpointRow.signature,
)


def _from_columns(row: tuple[int, bytes, dt.datetime, str, bytes]) -> Checkpoint:
    seq, chain, signed_at, key_id, signature = row
    return Checkpoint(
        sequence=seq,
        chain_hash=bytes(chain).hex(),
        signed_at=signed_at,
        key_id=key_id,
        signature=base64.b64encode(bytes(signature)).decode(),
    )


def export_checkpoint(checkpoint: Checkpoint, path: Path) -> None:
    path.write_bytes(msgspec.json.format(msgspec.json.encode(checkpoint)) + b"\n")


def read_checkpoint_file(path: Path) -> Checkpoint:
    try:
        checkpoint = msgspec.json.decode(path.read_bytes(), type=Checkpoint)
    except OSError as exc:
        raise CheckpointFileError(f"{path}: cannot read checkpoint file ({exc.strerror})") from exc
    except msgspec.ValidationError as exc:
        raise CheckpointFileError(f"{path}: invalid checkpoint: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise CheckpointFileError(f"{path}: not JSON: {exc}") from exc
    try:
        if len(checkpoint.chain_hash_bytes) != 32:
            raise CheckpointFileError(f"{path}: field chain_hash: expected 64 hex digits")
    except ValueError as exc:
        raise CheckpointFileError(f"{path}: field chain_hash: not hex") from exc
    try:
        base64.b64decode(checkpoint.signature, validate=True)
    except binascii.Error as exc:
        raise CheckpointFileError(f"{path}: field signature: not base64") from exc
    if checkpoint.signed_at.tzinfo is None:
        raise CheckpointFileError(f"{path}: field signed_at: needs a UTC offset")
    return checkpoint

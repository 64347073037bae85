"""Checkpoint keys and files: created once, reloaded, published, and bad files named precisely."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from registry.audit import (
    CheckpointFileError,
    SigningKeyError,
    export_checkpoint,
    load_or_create_signing_key,
    load_verifier,
    read_checkpoint_file,
)
from registry.audit.checkpoints import is_signed_by, sign_checkpoint

MOMENT = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_key_is_created_once_and_its_public_half_published(tmp_path: Path) -> None:
    signer = load_or_create_signing_key(tmp_path)
    again = load_or_create_signing_key(tmp_path)
    assert signer.key_id == again.key_id == load_verifier(tmp_path).key_id
    assert (tmp_path / "keys" / "audit-ed25519.pem").stat().st_mode & 0o777 == 0o600
    assert load_verifier(tmp_path).public_key_pem() == signer.public_key_pem()
    assert signer.public_key_jwk()["kid"] == signer.key_id


def test_no_key_to_verify_with_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="no audit signing key"):
        load_verifier(tmp_path)


def test_exported_checkpoint_round_trips_and_verifies(tmp_path: Path) -> None:
    signer = load_or_create_signing_key(tmp_path)
    checkpoint = sign_checkpoint(signer, 42, bytes(range(32)), MOMENT)
    export_checkpoint(checkpoint, tmp_path / "cp.json")
    loaded = read_checkpoint_file(tmp_path / "cp.json")
    assert loaded == checkpoint
    assert is_signed_by(loaded, signer)
    other = load_or_create_signing_key(tmp_path / "other")
    assert not is_signed_by(loaded, other)
    moved = sign_checkpoint(signer, 43, bytes(range(32)), MOMENT)
    assert not is_signed_by(
        type(loaded)(
            sequence=43,
            chain_hash=loaded.chain_hash,
            signed_at=MOMENT,
            key_id=loaded.key_id,
            signature=loaded.signature,
        ),
        signer,
    )
    assert is_signed_by(moved, signer)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chain_hash": "zz"}, "field chain_hash: not hex"),
        ({"chain_hash": "00"}, "field chain_hash: expected 64 hex digits"),
        ({"signature": "***"}, "field signature: not base64"),
        ({"sequence": "ten"}, r"Expected `int`, got `str` - at `\$.sequence`"),
        ({"signed_at": "2026-05-01T12:00:00"}, "field signed_at: needs a UTC offset"),
    ],
)
def test_bad_checkpoint_files_name_the_field(tmp_path: Path, change: dict[str, object], message: str) -> None:
    signer = load_or_create_signing_key(tmp_path)
    export_checkpoint(sign_checkpoint(signer, 1, bytes(32), MOMENT), tmp_path / "cp.json")
    document = json.loads((tmp_path / "cp.json").read_text())
    document.update(change)
    (tmp_path / "cp.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointFileError, match=message):
        read_checkpoint_file(tmp_path / "cp.json")


def test_missing_or_non_json_checkpoint_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointFileError, match="cannot read"):
        read_checkpoint_file(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CheckpointFileError, match="not JSON"):
        read_checkpoint_file(tmp_path / "bad.json")

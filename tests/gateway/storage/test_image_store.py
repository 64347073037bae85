"""The local image store: provenance chunks in the PNG, safe paths, retention."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from gateway.storage import (
    DIGITAL_SOURCE_TYPE,
    ArtifactProvenance,
    ImageNotFoundError,
    ImageStore,
    ImageToSave,
    Provenance,
    UnsafePathError,
    read_provenance,
)
from gateway.storage.provenance import ProvenanceError

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
PROVENANCE = Provenance(
    model=ArtifactProvenance(artifact="black-forest-labs/FLUX.2-dev@abc123", license="flux-dev-ncl@2.0"),
    adapters=(
        ArtifactProvenance(artifact="fal/FLUX.2-dev-Turbo@def456", license="flux-dev-ncl@2.0", scale=1.0),
    ),
    decision_id="dec_01",
    job_id="job_01",
    seed=42,
    created_at=NOW,
)


def png(text: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_saved_images_carry_provenance_and_the_ai_disclosure(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    stored = store.save(
        "acme", "job_01", 0, png({"parameters": "steps: 8", "Software": "diffusers"}), PROVENANCE
    )
    assert stored.path == (tmp_path / "images" / "acme" / "job_01.0.png").resolve()
    data = store.read("acme", "job_01", 0)
    image = Image.open(io.BytesIO(data))
    text = dict(image.text)  # type: ignore[attr-defined]
    assert read_provenance(data) == PROVENANCE
    assert text["DigitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert text["AI-Generated"] == "true"
    assert "trainedAlgorithmicMedia" in text["XML:com.adobe.xmp"]
    assert "Iptc4xmpExt:DigitalSourceType" in text["XML:com.adobe.xmp"]
    assert "flux-dev-ncl@2.0" in text["Description"]
    assert text["parameters"] == "steps: 8"  # the runner's own chunks are kept ...
    assert text["Software"] == "Clearance"  # ... unless ours has the same keyword
    assert image.size == (8, 8)
    assert image.getpixel((0, 0)) == (200, 30, 30)


@pytest.mark.parametrize(
    ("tenant", "job", "index"),
    [
        ("..", "job", 0),
        ("acme", "../other", 0),
        ("acme/../../etc", "job", 0),
        ("/etc", "job", 0),
        ("acme", "job\x00", 0),
        ("", "job", 0),
        (".hidden", "job", 0),
        ("acme", "job", -1),
        ("acme", "job", 10_000),
        ("acme", "a..b", 0),
    ],
)
def test_unsafe_path_components_are_refused(tmp_path: Path, tenant: str, job: str, index: int) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(UnsafePathError):
        store.save(tenant, job, index, png(), PROVENANCE)
    assert list(tmp_path.iterdir()) == []


def test_retention_purges_old_images_and_empty_directories(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, retention_days=30)
    old = store.save("acme", "job_old", 0, png(), PROVENANCE)
    store.save("acme", "job_new", 0, png(), PROVENANCE)
    store.save("globex", "job_old2", 0, png(), PROVENANCE)
    forty_days_ago = (NOW - dt.timedelta(days=40)).timestamp()
    os.utime(old.path, (forty_days_ago, forty_days_ago))
    os.utime(tmp_path / "globex" / "job_old2.0.png", (forty_days_ago, forty_days_ago))
    assert store.purge_expired(now=NOW) == 2
    assert not old.path.exists()
    assert not (tmp_path / "globex").exists()
    assert store.read("acme", "job_new", 0)
    with pytest.raises(ImageNotFoundError):
        store.read("acme", "job_old", 0)


def test_without_retention_nothing_is_purged(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    stored = store.save("acme", "job", 0, png(), PROVENANCE)
    os.utime(stored.path, (0, 0))
    assert store.purge_expired(now=NOW) == 0


def test_non_png_input_is_refused(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="JPEG")
    with pytest.raises(ProvenanceError, match="expected a PNG"):
        ImageStore(tmp_path).save("acme", "job", 0, out.getvalue(), PROVENANCE)
    with pytest.raises(ProvenanceError, match="not a readable image"):
        ImageStore(tmp_path).save("acme", "job", 0, b"not an image", PROVENANCE)


def test_pixels_are_copied_not_re_encoded_and_a_corrupt_png_is_refused(tmp_path: Path) -> None:
    original = png()
    stored = ImageStore(tmp_path).save("acme", "job", 0, original, PROVENANCE)
    image_data = original[original.index(b"IDAT") - 4 : original.index(b"IEND") - 4]
    assert image_data in stored.path.read_bytes()  # the compressed image data, byte for byte

    corrupt = bytearray(original)
    corrupt[original.index(b"IDAT") + 6] ^= 0xFF
    with pytest.raises(ProvenanceError, match="chunk b'IDAT' is truncated or corrupt"):
        ImageStore(tmp_path).save("acme", "job2", 0, bytes(corrupt), PROVENANCE)
    with pytest.raises(ProvenanceError, match="not a readable image"):
        ImageStore(tmp_path).save("acme", "job3", 0, original[:-20], PROVENANCE)


def test_images_saved_together_are_all_readable_and_a_bad_one_writes_nothing(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    batch = [
        ImageToSave("acme", "job_a", 0, png(), PROVENANCE),
        ImageToSave("acme", "job_a", 1, png(), PROVENANCE),
        ImageToSave("globex", "job_b", 0, png(), PROVENANCE),
    ]
    stored = store.save_many(batch)
    assert [s.path.name for s in stored] == ["job_a.0.png", "job_a.1.png", "job_b.0.png"]
    assert read_provenance(store.read("globex", "job_b", 0)) == PROVENANCE
    assert read_provenance(store.read("acme", "job_a", 1)) == PROVENANCE

    with pytest.raises(ProvenanceError):
        store.save_many(
            [
                ImageToSave("acme", "job_c", 0, png(), PROVENANCE),
                ImageToSave("acme", "job_c", 1, b"x", PROVENANCE),
            ]
        )
    with pytest.raises(ImageNotFoundError):
        store.read("acme", "job_c", 0)
    assert sorted(p.name for p in (tmp_path / "acme").iterdir()) == ["job_a.0.png", "job_a.1.png"]


def test_images_stored_in_the_earlier_per_job_layout_are_still_read_and_purged(tmp_path: Path) -> None:
    legacy = tmp_path / "acme" / "job_old"
    legacy.mkdir(parents=True)
    (legacy / "0.png").write_bytes(png())
    store = ImageStore(tmp_path, retention_days=30)
    assert store.read("acme", "job_old", 0) == png()
    forty_days_ago = (NOW - dt.timedelta(days=40)).timestamp()
    os.utime(legacy / "0.png", (forty_days_ago, forty_days_ago))
    assert store.purge_expired(now=NOW) == 1
    assert not (tmp_path / "acme").exists()


def test_a_temp_name_left_behind_is_neither_reused_nor_disturbed(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    (tmp_path / "acme").mkdir()
    stale = [tmp_path / "acme" / f"{store._temp_prefix}{n}.png" for n in range(3)]
    for path in stale:  # what a crashed writer with the same names would leave
        path.write_bytes(b"stale")
    store.save_many([ImageToSave("acme", "job_a", i, png(), PROVENANCE) for i in range(2)])
    assert read_provenance(store.read("acme", "job_a", 1)) == PROVENANCE
    assert [p.read_bytes() for p in stale] == [b"stale"] * 3
    names = sorted(p.name for p in (tmp_path / "acme").iterdir())
    assert names == sorted(["job_a.0.png", "job_a.1.png", *(p.name for p in stale)])
    assert oct((tmp_path / "acme" / "job_a.0.png").stat().st_mode & 0o777) == oct(0o600)


async def test_a_jobs_images_are_deleted_in_both_layouts(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    store.save("acme", "job_01", 0, png(), PROVENANCE)
    legacy = tmp_path / "images" / "acme" / "job_01" / "1.png"  # the layout before 2026-11-26
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(png())
    store.save("acme", "job_02", 0, png(), PROVENANCE)
    assert await store.delete("acme", "job_01", 2) == 2
    assert await store.delete("acme", "job_01", 2) == 0
    with pytest.raises(ImageNotFoundError):
        store.read("acme", "job_01", 0)
    assert not legacy.exists()
    assert store.read("acme", "job_02", 0)

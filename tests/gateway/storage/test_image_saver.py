"""Concurrent image saves are written together, and one caller's bad image fails only that caller."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

from gateway.storage import ImageNotFoundError, ImageStore, ImageToSave, read_provenance
from gateway.storage.provenance import ProvenanceError
from gateway.storage.saver import ImageSaver
from tests.gateway.storage.test_image_store import PROVENANCE


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format="PNG")
    return out.getvalue()


async def test_concurrent_saves_share_batches_and_each_gets_its_own_images(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    saver = ImageSaver(store)
    jobs = [f"job_{n}" for n in range(20)]
    results = await asyncio.gather(
        *(
            saver.save([ImageToSave("acme", job, i, png((n, i, 0)), PROVENANCE) for i in range(2)])
            for n, job in enumerate(jobs)
        )
    )
    assert saver.batches < len(jobs)
    for n, (job, stored) in enumerate(zip(jobs, results, strict=True)):
        assert [(s.job_id, s.index) for s in stored] == [(job, 0), (job, 1)]
        for image in stored:
            assert image.data == store.read("acme", job, image.index)
            assert Image.open(io.BytesIO(image.data)).getpixel((0, 0)) == (n, image.index, 0)
            assert read_provenance(image.data) == PROVENANCE


async def test_a_bad_image_fails_its_own_caller_only(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    saver = ImageSaver(store)
    good = saver.save([ImageToSave("acme", "job_good", 0, png((1, 2, 3)), PROVENANCE)])
    bad = saver.save([ImageToSave("acme", "job_bad", 0, b"not a png", PROVENANCE)])
    also_good = saver.save([ImageToSave("globex", "job_other", 0, png((4, 5, 6)), PROVENANCE)])
    results = await asyncio.gather(good, bad, also_good, return_exceptions=True)
    assert isinstance(results[1], ProvenanceError)
    assert store.read("acme", "job_good", 0)
    assert store.read("globex", "job_other", 0)
    with pytest.raises(ImageNotFoundError):
        store.read("acme", "job_bad", 0)

"""`ImageSaver`: group commit for the image store, as `JobWriter` is for the job rows.

Each finished job must have its PNGs durable before it is recorded as succeeded. Saved one job
at a time, every job paid a hop to a thread and back, a temp file's fsync and the fsync of the
directories whose entries changed. Here concurrent saves queue; one task writes everything queued
so far with the store's `save_batch` (on the local store one thread hop at most, each directory
fsynced once for all the images in it; in an object store concurrent uploads) and answers each
caller once the whole batch is durable.

A batch that fails (an image that is not a PNG, a full disk) is retried one caller at a time, so
only the caller whose images are at fault gets the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.storage.images import ImageBackend, ImageToSave, StoredImage

_Waiting = tuple[list[ImageToSave], "asyncio.Future[list[StoredImage]]"]


class ImageSaver:
    def __init__(self, store: ImageBackend, *, max_batch: int = 256) -> None:
        self.store = store
        self.max_batch = max_batch
        self.batches = 0
        """Batches written so far (for tests and benchmarks of the batching)."""
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None

    async def save(self, images: Sequence[ImageToSave]) -> list[StoredImage]:
        """Store `images` durably (with the other callers' of the moment); what was stored."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[StoredImage]] = loop.create_future()
        self._waiting.append((list(images), answer))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name="image-saver")
        return await answer

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                await self._write([w for w in batch if not w[1].done()])
            except BaseException:  # cancelled (shutdown): nobody may wait forever
                for _, answer in (*batch, *self._waiting):
                    answer.cancel()
                self._waiting.clear()
                raise

    async def _write(self, batch: list[_Waiting]) -> None:
        if not batch:
            return
        try:
            images = [image for waiting, _ in batch for image in waiting]
            stored = await self.store.save_batch(images)
        except Exception as exc:
            if len(batch) == 1:
                _answer(batch[0][1], exc)
                return
            for one in batch:
                await self._write([one])
            return
        self.batches += 1
        start = 0
        for images, answer in batch:
            _answer(answer, stored[start : start + len(images)])
            start += len(images)


def _answer(answer: asyncio.Future[list[StoredImage]], result: list[StoredImage] | Exception) -> None:
    if answer.done():
        return
    if isinstance(result, Exception):
        answer.set_exception(result)
    else:
        answer.set_result(result)

"""A queue protocol in the style of fal: submit, poll the status, fetch the result, cancel.

Only the submit is a non-idempotent POST; status polls, result fetches, image downloads and the
cancel are safe to repeat. Status and result URLs are built from the configured base URL, never
taken from the response, so a provider answer cannot send the key elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec

from runners.errors import ProviderError
from runners.remote.base import RemoteRunner
from runners.remote.http import ProviderSettings
from runners.remote.images import decode_base64
from runners.task import GenerationTask


class _Submitted(msgspec.Struct):
    request_id: str


class _Status(msgspec.Struct):
    status: str
    queue_position: int | None = None


class _ResultImage(msgspec.Struct):
    url: str
    content_type: str | None = None


class _Result(msgspec.Struct):
    images: list[_ResultImage]
    seed: int | None = None


class FalQueueRunner(RemoteRunner):
    kind = "fal_queue"

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings, {"Authorization": f"Key {settings.api_key}"})
        self._requests: dict[str, tuple[str, str]] = {}
        """task id -> (model, provider request id), while the task runs."""

    async def _fetch_images(self, task: GenerationTask, model: str) -> list[bytes]:
        body: dict[str, object] = {
            "prompt": task.prompt,
            "image_size": {"width": task.width, "height": task.height},
            "num_inference_steps": task.steps,
            "guidance_scale": task.guidance,
            "seed": task.seed,
            "num_images": task.num_images,
        }
        if task.negative_prompt:
            body["negative_prompt"] = task.negative_prompt
        submitted = self._decode(
            await self.client.call("POST", self.client.url(model), json=body, idempotent=False), _Submitted
        )
        request = submitted.request_id
        if not request.replace("-", "").isalnum():
            raise ProviderError(f"runner {self.settings.runner_id}: unusable request id {request!r}")
        self._requests[task.task_id] = (model, request)
        try:
            while True:
                status = self._decode(
                    await self.client.call(
                        "GET", self.client.url(f"{model}/requests/{request}/status"), idempotent=True
                    ),
                    _Status,
                )
                if status.status == "COMPLETED":
                    break
                if status.status not in ("IN_QUEUE", "IN_PROGRESS"):
                    raise ProviderError(
                        f"runner {self.settings.runner_id}: request {request} ended with status "
                        f"{status.status}"
                    )
                await asyncio.sleep(self.settings.poll_interval_s)
            result = self._decode(
                await self.client.call(
                    "GET", self.client.url(f"{model}/requests/{request}"), idempotent=True
                ),
                _Result,
            )
        finally:
            self._requests.pop(task.task_id, None)
        images: list[bytes] = []
        for index, item in enumerate(result.images):
            if item.url.startswith("data:"):
                images.append(decode_base64(item.url, f"task {task.task_id} image {index}"))
            else:
                download = await self.client.call("GET", item.url, idempotent=True, expect="image/*")
                images.append(download.body)
        return images

    async def _on_cancel(self, task_id: str) -> None:
        found = self._requests.get(task_id)
        if found is None:
            return
        model, request = found
        with contextlib.suppress(ProviderError):  # best effort: canceled on our side either way
            await self.client.call(
                "PUT", self.client.url(f"{model}/requests/{request}/cancel"), idempotent=True
            )

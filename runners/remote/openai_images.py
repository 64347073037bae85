"""The OpenAI Images API: `POST /images/generations`, images back as base64 or as URLs.

The API takes no seed, steps or guidance; those task fields are recorded in provenance but not
sent. The generation POST is not idempotent, so it is retried only when the provider says it did
not process it (429, 503) or the connection never opened.
"""

from __future__ import annotations

import msgspec

from runners.errors import ProviderError
from runners.remote.base import RemoteRunner
from runners.remote.http import ProviderSettings
from runners.remote.images import decode_base64
from runners.task import GenerationTask


class _ImageData(msgspec.Struct):
    b64_json: str | None = None
    url: str | None = None


class _ImagesResponse(msgspec.Struct):
    data: list[_ImageData]


class OpenAIImagesRunner(RemoteRunner):
    kind = "openai_images"

    def __init__(self, settings: ProviderSettings, *, response_format: str | None = "b64_json") -> None:
        """`response_format` is sent as is (`b64_json` or `url`); None for models that only return
        base64 and reject the parameter."""
        super().__init__(settings, {"Authorization": f"Bearer {settings.api_key}"})
        self._response_format = response_format

    async def _fetch_images(self, task: GenerationTask, model: str) -> list[bytes]:
        body: dict[str, object] = {
            "model": model,
            "prompt": task.prompt,
            "n": task.num_images,
            "size": f"{task.width}x{task.height}",
        }
        if self._response_format is not None:
            body["response_format"] = self._response_format
        response = await self.client.call(
            "POST", self.client.url("images/generations"), json=body, idempotent=False
        )
        try:
            parsed = msgspec.json.decode(response.body, type=_ImagesResponse)
        except msgspec.DecodeError as exc:
            raise ProviderError(
                f"runner {self.settings.runner_id}: malformed images response: {exc}"
            ) from exc
        images: list[bytes] = []
        for index, item in enumerate(parsed.data):
            what = f"task {task.task_id} image {index}"
            if item.b64_json is not None:
                images.append(decode_base64(item.b64_json, what))
            elif item.url is not None:
                download = await self.client.call("GET", item.url, idempotent=True, expect="image/*")
                images.append(download.body)
            else:
                raise ProviderError(f"runner {self.settings.runner_id}: {what} has neither b64_json nor url")
        return images

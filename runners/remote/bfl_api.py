"""Black Forest Labs' FLUX API: submit, poll the returned `polling_url`, download the sample.

`POST {endpoint}/v1/{model}` with the key in `x-key` answers `{id, polling_url}`; `GET
polling_url` (with the key) answers `{status}` until `Ready`, with `result.sample`, a signed URL
of the image on BFL's delivery hosts, valid for minutes, fetched without the key. One image per
request: a task for n images submits n requests, with the task's per-image seeds.

The polling URL comes from the answer because BFL's global endpoint routes each request to a
regional cluster (`api.us1.bfl.ai`, ...) that alone knows it. The key is sent there only when
the URL keeps the endpoint's scheme and its host is the endpoint's host or a host under the same
parent domain (`*.bfl.ai` for `api.bfl.ai`); any other polling URL fails the task before a
request is made. An answer without one is polled at `{endpoint}/v1/get_result?id=...`.
Samples are downloaded only from `download_hosts` (BFL's delivery hosts unless the runner's
configuration names others), never with the key.

Only the submit is a non-idempotent POST; polls and downloads are safe to repeat. BFL has no
cancel endpoint: a canceled task stops polling and its result is never fetched.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import msgspec

from runners.errors import ProviderError, ProviderRejectedError
from runners.remote.base import RemoteRunner
from runners.remote.http import ProviderSettings
from runners.task import GenerationTask

DELIVERY_HOSTS = (".bfl.ai", "bfldeliveryprod.blob.core.windows.net")
"""Where BFL's API reference shows result samples (a leading dot: any host under that domain)."""

_WAITING = frozenset({"Pending", "Queued", "Processing"})
_REFUSED = frozenset({"Request Moderated", "Content Moderated"})
"""The provider is up and declined this prompt or its output: not a provider failure."""


class _Submitted(msgspec.Struct):
    id: str
    polling_url: str | None = None
    """Absent from answers of BFL's regional endpoints before polling URLs were introduced:
    then `GET {endpoint}/v1/get_result?id=...` is asked."""


class _Sample(msgspec.Struct):
    sample: str


class _Poll(msgspec.Struct):
    status: str
    result: _Sample | None = None


class BflApiRunner(RemoteRunner):
    kind = "bfl_api"

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings, {"x-key": settings.api_key})
        self._endpoint = urlsplit(settings.base_url)

    async def _fetch_images(self, task: GenerationTask, model: str) -> list[bytes]:
        requests = [asyncio.ensure_future(self._one(task, model, seed)) for seed in task.image_seeds()]
        try:
            return list(await asyncio.gather(*requests))
        finally:
            for request in requests:  # one failed: the others' polls stop too
                request.cancel()

    async def _one(self, task: GenerationTask, model: str, seed: int) -> bytes:
        body: dict[str, object] = {
            "prompt": task.prompt,
            "width": task.width,
            "height": task.height,
            "seed": seed,
            "output_format": "png",
        }
        submitted = self._decode(
            await self.client.call("POST", self.client.url(f"v1/{model}"), json=body, idempotent=False),
            _Submitted,
        )
        if submitted.polling_url is None:
            if not submitted.id.replace("-", "").replace("_", "").isalnum():
                raise ProviderError(f"runner {self.settings.runner_id}: unusable request id {submitted.id!r}")
            polling_url = self.client.url(f"v1/get_result?id={submitted.id}")
        else:
            polling_url = self._polling_url(submitted.polling_url)
        ended = f"runner {self.settings.runner_id}: request {submitted.id} ended with status"
        while True:
            poll = self._decode(await self.client.call("GET", polling_url, idempotent=True), _Poll)
            if poll.status == "Ready":
                break
            if poll.status in _REFUSED:
                raise ProviderRejectedError(f"{ended} {poll.status}")
            if poll.status not in _WAITING:
                raise ProviderError(f"{ended} {poll.status}")
            await asyncio.sleep(self.settings.poll_interval_s)
        if poll.result is None:
            raise ProviderError(f"{ended} Ready but without a sample")
        download = await self.client.call("GET", poll.result.sample, idempotent=True, expect="image/*")
        return download.body

    def _polling_url(self, url: str) -> str:
        """The answer's polling URL, once its host may get the key (see the module doc)."""
        parts = urlsplit(url)
        host, endpoint_host = parts.hostname or "", self._endpoint.hostname or ""
        labels = endpoint_host.split(".")
        parent = (
            ".".join(labels[1:]) if len(labels) > 2 and not endpoint_host.replace(".", "").isdigit() else None
        )
        same_provider = parts.netloc == self._endpoint.netloc or (
            parent is not None and host.endswith("." + parent) and parts.port == self._endpoint.port
        )
        if parts.scheme != self._endpoint.scheme or not same_provider:
            raise ProviderError(
                f"runner {self.settings.runner_id}: polling URL {url!r} is not on {endpoint_host} or "
                f"a host of its domain; the key is not sent there"
            )
        self.client.key_netlocs.add(parts.netloc)
        return url

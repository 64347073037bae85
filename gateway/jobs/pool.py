"""The runner instances behind the catalog's `Runner` entries: built on demand, health, load
and warm adapters for scoring.

A catalog entry says where generation may happen; the pool holds the object that does it. Local
diffusers runners are built in process; provider runners get their API key from the settings
(`CLEARANCE_PROVIDER_API_KEYS`, keyed by runner id or provider name), never from the catalog.
An entry whose kind has no backend here, or a provider without a key, has no instance: it is
never chosen. Instances may also be registered by hand (`register`), for tests and embedding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from registry.catalog.entries import Catalog
from registry.catalog.entries import Runner as RunnerEntry
from registry.vocabulary import RunnerKind
from runners.protocol import Runner, RunnerHealth

log = logging.getLogger(__name__)

RunnerFactory = Callable[[RunnerEntry], Runner | None]


@dataclass
class PooledRunner:
    entry: RunnerEntry
    runner: Runner
    running: int = 0
    """Tasks of this process running on it now."""
    held: bool = False
    """Paused in this process alone (`RunnerPool.pause`: tests, embedding)."""
    last_health: RunnerHealth | None = None
    owned: bool = True
    """Closed by the pool on shutdown (False for instances registered from outside)."""

    @property
    def paused(self) -> bool:
        """Jobs routed to it wait queued, none starts: paused in the catalog (every process,
        `POST /admin/runners/{id}/pause`) or held here."""
        return self.held or self.entry.paused

    @property
    def capacity(self) -> int:
        return self.entry.capacity

    @property
    def saturated(self) -> bool:
        return self.running >= self.entry.capacity


@dataclass
class RunnerPool:
    factory: RunnerFactory
    _runners: dict[str, PooledRunner] = field(default_factory=dict)
    _failed: set[str] = field(default_factory=set)
    _synced_revision: int | None = None

    def register(self, entry: RunnerEntry, runner: Runner) -> PooledRunner:
        pooled = PooledRunner(entry=entry, runner=runner, owned=False)
        self._runners[entry.id] = pooled
        return pooled

    def sync(self, catalog: Catalog) -> None:
        """Build instances for enabled entries that have none; keep entries current."""
        for entry in catalog.runners:
            pooled = self._runners.get(entry.id)
            if pooled is not None:
                pooled.entry = entry
                continue
            if not entry.enabled or entry.id in self._failed:
                continue
            try:
                runner = self.factory(entry)
            except Exception:  # a broken backend must not stop the others
                log.exception("runner %s could not be built", entry.id)
                runner = None
            if runner is None:
                self._failed.add(entry.id)
                continue
            self._runners[entry.id] = PooledRunner(entry=entry, runner=runner)

    def follow(self, catalog: Catalog, revision: int) -> None:
        """`sync` once per catalog revision (the dispatcher's and the executor's maintenance's
        calls share it), never back to an older one: a caller may hold a revision across an
        await while another follows a newer one (a resumed runner would be paused again, or a
        paused one resumed)."""
        if self._synced_revision is None or revision > self._synced_revision:
            self.sync(catalog)
            self._synced_revision = revision

    def get(self, runner_id: str) -> PooledRunner | None:
        return self._runners.get(runner_id)

    def __contains__(self, runner_id: str) -> bool:
        return runner_id in self._runners

    def runners(self) -> list[PooledRunner]:
        """The instances held now (read by the metrics at scrape time)."""
        return list(self._runners.values())

    async def healthy(self, runner_id: str) -> bool:
        pooled = self._runners.get(runner_id)
        if pooled is None or pooled.paused or not pooled.entry.enabled:
            return False
        return await ask_health(pooled)

    async def check_health(self) -> None:
        """Ask every instance for its health now, kept in `last_health` (paused ones too)."""
        for pooled in self.runners():
            await ask_health(pooled)

    def warm_score(self, runner_id: str, model_id: str, adapter_ids: tuple[str, ...]) -> int:
        """2: pipeline warm with these adapters active, 1: pipeline warm, 0: cold (or remote)."""
        pooled = self._runners.get(runner_id)
        if pooled is None:
            return 0
        described = pooled.runner.describe()
        if model_id not in described.warm_pipelines:
            return 0
        active = described.active_adapters.get(model_id, ())
        resident = described.warm_adapters.get(model_id, ())
        if set(adapter_ids) <= set(active) or set(adapter_ids) <= set(resident):
            return 2
        return 1

    def pause(self, runner_id: str, paused: bool = True) -> None:
        """Hold (or release) the runner in this process only; the catalog's `paused` holds it
        in every process."""
        pooled = self._runners.get(runner_id)
        if pooled is not None:
            pooled.held = paused

    async def close(self) -> None:
        """Close the runners the pool built; registered ones stay with their owner."""
        for runner_id, pooled in list(self._runners.items()):
            if not pooled.owned:
                continue
            try:
                await pooled.runner.close()
            except Exception:
                log.exception("closing runner %s failed", pooled.entry.id)
            del self._runners[runner_id]
        self._failed.clear()


async def ask_health(pooled: PooledRunner) -> bool:
    """Ask the instance for its health now (kept in `last_health`); a failing check is unhealthy."""
    try:
        pooled.last_health = await pooled.runner.health()
    except Exception:
        log.exception("health of runner %s failed", pooled.entry.id)
        pooled.last_health = RunnerHealth(ok=False, detail="health check failed")
        return False
    return pooled.last_health.ok


def default_factory(
    provider_keys: Mapping[str, str], *, device: str = "auto", proxy: str | None = None
) -> RunnerFactory:
    """Local diffusers runners and the provider runners of `runners.remote` (their calls through
    `proxy` when given, else the environment's proxy variables)."""

    def build(entry: RunnerEntry) -> Runner | None:
        if entry.kind is RunnerKind.LOCAL_DIFFUSERS:
            from runners.local import LocalDiffusersRunner, LocalRunnerSettings

            return LocalDiffusersRunner(
                LocalRunnerSettings(runner_id=entry.id, device=entry.config.get("device", device))
            )
        if entry.kind in (RunnerKind.OPENAI_IMAGES, RunnerKind.FAL_QUEUE, RunnerKind.BFL_API):
            key = provider_keys.get(entry.id) or provider_keys.get(entry.provider or "")
            if not key or not entry.endpoint:
                log.warning("runner %s has no API key or endpoint configured; not used", entry.id)
                return None
            from runners.remote.http import ProviderSettings

            settings = ProviderSettings(
                runner_id=entry.id,
                base_url=entry.endpoint,
                api_key=key,
                download_hosts=_download_hosts(entry),
                proxy=proxy,
            )
            if entry.kind is RunnerKind.OPENAI_IMAGES:
                from runners.remote.openai_images import OpenAIImagesRunner

                return OpenAIImagesRunner(settings)
            if entry.kind is RunnerKind.BFL_API:
                from runners.remote.bfl_api import BflApiRunner

                return BflApiRunner(settings)
            from runners.remote.fal_queue import FalQueueRunner

            return FalQueueRunner(settings)
        log.warning("runner %s: kind %s has no backend in this gateway", entry.id, entry.kind.value)
        return None

    return build


def _download_hosts(entry: RunnerEntry) -> tuple[str, ...]:
    """`config.download_hosts` (comma-separated; `.example.com` admits its subdomains), else BFL's
    delivery hosts for a `bfl_api` runner and none for the others."""
    configured = entry.config.get("download_hosts")
    if configured is not None:
        return tuple(host.strip() for host in configured.split(",") if host.strip())
    if entry.kind is RunnerKind.BFL_API:
        from runners.remote.bfl_api import DELIVERY_HOSTS

        return DELIVERY_HOSTS
    return ()

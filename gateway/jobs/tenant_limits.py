"""Each tenant's job limits: its catalog entry's `limits` (a plan, a tier) over the settings'.

Read on every submission and by the executor when it leases slots, so lookups are plain dict
reads; the table is rebuilt only when the catalog revision it was read from changes (catalog
changes reach every process with the catalog cache's refresh).
"""

from __future__ import annotations

from gateway.jobs.config import JobLimits
from registry.catalog.entries import Catalog, TenantLimits


class TenantLimitTable:
    def __init__(self, defaults: JobLimits) -> None:
        self.defaults = defaults
        self._source: Catalog | None = None
        self._own: dict[str, TenantLimits] = {}

    def update(self, catalog: Catalog) -> None:
        """Read the tenants' limits from `catalog`, unless it is the one already read."""
        if catalog is self._source:
            return
        self._own = {t.id: t.limits for t in catalog.tenants if t.limits is not None}
        self._source = catalog

    def concurrency(self, tenant_id: str) -> int:
        own = self._own.get(tenant_id)
        return (own and own.concurrency) or self.defaults.concurrency

    def rate_per_minute(self, tenant_id: str) -> int:
        own = self._own.get(tenant_id)
        return (own and own.rate_per_minute) or self.defaults.rate_per_minute

    def queue_depth(self, tenant_id: str) -> int:
        own = self._own.get(tenant_id)
        return (own and own.queue_depth) or self.defaults.queue_depth

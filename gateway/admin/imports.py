"""`POST /admin/imports/hf`: a Hugging Face model or adapter into the catalog, through the same
importer as `clearance import hf`. Where it may read from is the operator's choice, never the
request's: the Hub endpoint is `CLEARANCE_HF_ENDPOINT` (checked by the outbound guard) and a
local snapshot must lie under `CLEARANCE_HF_IMPORT_ROOT`."""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from gateway.admin.catalog_controllers import ADMIN
from gateway.admin.catalog_service import CatalogAdmin
from gateway.admin.dependencies import provide_catalog_admin
from gateway.api.errors import InvalidQueryError
from gateway.runtime import GatewayRuntime
from gateway.settings import Settings
from registry.catalog.entries import Artifact
from registry.importers import import_hf
from registry.netguard import OutboundPolicy, vet_url

HUB = "https://huggingface.co"


class HfImportRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    repo: str
    """`owner/name`, optionally `@revision` (a commit sha pins it)."""
    local_dir: str | None = None
    """A snapshot directory relative to `CLEARANCE_HF_IMPORT_ROOT` instead of the Hub."""
    bases: tuple[str, ...] = ()
    """Base model ids replacing the card's `base_model`."""
    dry_run: bool = False


class HfImportResult(msgspec.Struct, frozen=True, kw_only=True):
    artifact: Artifact
    origin: str
    license_chain: tuple[str, ...]
    """The artifact's own license, then its bases': what its effective license combines."""
    written: bool


def local_snapshot(settings: Settings, relative: str) -> Path:
    root = settings.hf_import_root
    if root is None:
        raise InvalidQueryError("local_dir: local imports are not enabled (CLEARANCE_HF_IMPORT_ROOT)")
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or path == base:
        raise InvalidQueryError(f"local_dir: {relative!r} is not a directory under the import root")
    return path


class ImportAdminController(Controller):
    path = "/imports"
    tags = ["admin"]
    dependencies = {"admin": Provide(provide_catalog_admin, sync_to_thread=False)}

    @post("/hf", opt=ADMIN, summary="Import a Hugging Face repository into the catalog")
    async def import_hf_repo(
        self,
        data: JSONBody[HfImportRequest],
        admin: NamedDependency[CatalogAdmin],
        runtime: NamedDependency[GatewayRuntime],
    ) -> HfImportResult:
        settings = runtime.settings
        local_dir = local_snapshot(settings, data.local_dir) if data.local_dir is not None else None
        endpoint = None
        if local_dir is None:
            endpoint = settings.hf_endpoint or HUB
            policy = OutboundPolicy.from_settings(
                allow_http=settings.outbound_allow_http, allowlist=settings.outbound_allowlist
            )
            await vet_url(endpoint, policy)
        catalog = await admin.catalog()
        result = await anyio.to_thread.run_sync(
            lambda: import_hf(data.repo, catalog, endpoint=endpoint, local_dir=local_dir, bases=data.bases)
        )
        if not data.dry_run:
            await admin.import_entry("artifacts", result.artifact)
        return HfImportResult(
            artifact=result.artifact,
            origin=result.origin,
            license_chain=result.license_chain,
            written=not data.dry_run,
        )

"""The import as a person reviews it: declared vs recorded vs effective license, and the flags.

Shared by the CLI and the admin API so both say the same thing about the same import.
"""

from __future__ import annotations

from registry.catalog.entries import CivitaiSource, HuggingFaceSource
from registry.importers.result import ImportResult


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def describe_import(result: ImportResult) -> list[str]:
    artifact = result.artifact
    lines = [f"artifact     {artifact.id} ({artifact.kind.value}, {artifact.name})"]
    if artifact.bases:
        relation = artifact.base_relation.value if artifact.base_relation else "derived"
        lines.append(f"bases        {', '.join(artifact.bases)} ({relation})")
    lines.append(f"origin       {result.origin}")
    source = artifact.source
    if isinstance(source, HuggingFaceSource):
        lines.append(f"revision     {source.revision}")
    if isinstance(source, CivitaiSource):
        lines.append(f"civitai      model {source.model_id}, version {source.version_id}")
    if isinstance(source, HuggingFaceSource | CivitaiSource):
        lines.extend(f"file         {f.name} sha256 {f.sha256}" for f in source.files)
    lines.append(f"declared     {artifact.declared_license or '(none)'}")
    lines.append(f"license      {artifact.license}")
    lines.append(f"effective    {' + '.join(result.license_chain)} (most restrictive wins)")
    lines.append(f"flags        {', '.join(artifact.license_flags) or '(none)'}")
    permissions = artifact.creator_permissions
    if permissions is not None:
        commercial = ", ".join(u.value for u in permissions.allow_commercial_use) or "none"
        lines.append(
            f"creator      {permissions.creator or '(unnamed)'}: commercial use {commercial}; "
            f"no credit needed {_yes_no(permissions.allow_no_credit)}; "
            f"derivatives {_yes_no(permissions.allow_derivatives)}; "
            f"different license {_yes_no(permissions.allow_different_license)}"
        )
    if artifact.recommended is not None:
        settings = artifact.recommended
        shown = [
            f"{name}={value}"
            for name, value in (
                ("steps", settings.steps),
                ("guidance", settings.guidance),
                ("sigmas", list(settings.sigmas) if settings.sigmas else None),
                ("width", settings.width),
                ("height", settings.height),
                ("weight_name", settings.weight_name),
            )
            if value is not None
        ]
        lines.append(f"recommended  {' '.join(shown)}")
    if artifact.gated:
        lines.append(f"gated        {artifact.gated}")
    return lines

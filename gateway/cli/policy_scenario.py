"""Policy scenarios: a YAML file naming catalog files (or inline entries) to add to the built-in
catalog, the tenant, the operator and one request, for `clearance policy evaluate`.

    builtin: true                  # start from the built-in catalog (default)
    catalogs: [deployment.yaml]    # catalog files, relative to the scenario file
    catalog: {agreements: [...]}   # inline catalog entries
    tenant: {id: acme, name: Acme, profile: {...}}   # a tenant added for the scenario
    operator: {name: ..., charges_tenants: true}     # replaces the catalog's operator
    request: {model_id: ..., purpose: ..., date: 2026-11-26, ...}   # tenant_id defaults to tenant.id
    expect: {decision: deny}       # optional: exit 3 when the decision differs

Every problem is reported with the file and the field it is about; nothing is evaluated then.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import msgspec

from registry.catalog.builtin import builtin_catalog_paths
from registry.catalog.entries import Catalog, Operator, Tenant, TenantProfile
from registry.catalog.errors import CatalogError, CatalogIssue, split_validation_error
from registry.catalog.files import merge_catalogs, read_catalog_file, read_catalog_files
from registry.catalog.validation import validate_catalog
from registry.policy import PolicyRequest
from registry.terms import Region
from registry.vocabulary import Decision, OutputUse, Purpose, UseCase


class ScenarioError(Exception):
    """A scenario that cannot be evaluated; each line names the file and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ScenarioRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    model_id: str
    purpose: Purpose
    tenant_id: str | None = None
    adapter_ids: tuple[str, ...] = ()
    runner_id: str | None = None
    output_use: OutputUse = OutputUse.INTERNAL
    use_cases: frozenset[UseCase] = frozenset()
    end_user_regions: tuple[Region, ...] | None = None
    usage_this_month: dict[str, Annotated[int, msgspec.Meta(ge=0)]] = {}
    date: dt.date | None = None
    strict: bool = False
    profile_override: TenantProfile | None = None
    max_alternatives: Annotated[int, msgspec.Meta(ge=0)] = 5


class Expectation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    decision: Decision


class ScenarioFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    request: ScenarioRequest
    builtin: bool = True
    catalogs: tuple[str, ...] = ()
    catalog: Catalog | None = None
    tenant: Tenant | None = None
    operator: Operator | None = None
    expect: Expectation | None = None


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    """A scenario resolved: the merged, validated catalog and the request to evaluate."""

    catalog: Catalog
    request: PolicyRequest
    expect: Decision | None = None


def load_scenario(path: Path, *, today: dt.date) -> Scenario:
    """Read, merge and validate; `today` is used when the request names no date."""
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError([f"{where}: cannot be read: {exc.strerror}"]) from exc
    try:
        spec = msgspec.yaml.decode(data, type=ScenarioFile)
    except msgspec.ValidationError as exc:
        message, section, index, field = split_validation_error(exc)
        located = ".".join(p for p in (section, f"[{index}]" if index is not None else "", field) if p)
        raise ScenarioError([f"{where}: {located or 'scenario'}: {message}"]) from exc
    except (msgspec.DecodeError, ValueError) as exc:  # PyYAML raises ValueError for dates like 2026-13-01
        raise ScenarioError([f"{where}: not valid YAML: {exc}"]) from exc
    try:
        catalog = _merge(path, spec)
    except CatalogError as exc:
        raise ScenarioError([str(issue) for issue in exc.issues]) from exc
    except ValueError as exc:  # a catalog file PyYAML could not read (an impossible date)
        raise ScenarioError([f"{where}: a catalog file is not valid YAML: {exc}"]) from exc
    request = _request(where, spec, catalog, today)
    return Scenario(catalog=catalog, request=request, expect=spec.expect.decision if spec.expect else None)


def _merge(path: Path, spec: ScenarioFile) -> Catalog:
    where = str(path)
    parts: list[tuple[str, Catalog]] = []
    if spec.builtin:
        builtin = read_catalog_files(builtin_catalog_paths()).catalog
        parts.append(("built-in catalog", builtin))
    issues: list[CatalogIssue] = []
    for name in spec.catalogs:
        try:
            parts.append((str(path.parent / name), read_catalog_file(path.parent / name)))
        except CatalogError as exc:
            issues.extend(exc.issues)
    if issues:
        raise CatalogError(issues)
    if spec.catalog is not None:
        parts.append((f"{where} (catalog)", spec.catalog))
    if spec.tenant is not None:
        parts.append((f"{where} (tenant)", Catalog(tenants=(spec.tenant,))))
    sourced = merge_catalogs(parts)
    if spec.operator is not None:
        sourced = msgspec.structs.replace(
            sourced,
            catalog=msgspec.structs.replace(sourced.catalog, operator=spec.operator),
            origins={**sourced.origins, "operator": (f"{where} (operator)",)},
        )
    validate_catalog(sourced)
    return sourced.catalog


def _request(where: str, spec: ScenarioFile, catalog: Catalog, today: dt.date) -> PolicyRequest:
    wanted = spec.request
    tenant_id = wanted.tenant_id or (spec.tenant.id if spec.tenant else None)
    problems = []
    if tenant_id is None:
        problems.append(f"{where}: request.tenant_id: missing (and the scenario names no tenant)")
    elif tenant_id not in {t.id for t in catalog.tenants}:
        problems.append(f"{where}: request.tenant_id: tenant {tenant_id!r} is not in the catalog")
    artifacts = {a.id for a in catalog.artifacts}
    if wanted.model_id not in artifacts:
        problems.append(f"{where}: request.model_id: {wanted.model_id!r} is not in the catalog")
    for index, adapter in enumerate(wanted.adapter_ids):
        if adapter not in artifacts:
            problems.append(f"{where}: request.adapter_ids[{index}]: {adapter!r} is not in the catalog")
    if wanted.runner_id is not None and wanted.runner_id not in {r.id for r in catalog.runners}:
        problems.append(f"{where}: request.runner_id: runner {wanted.runner_id!r} is not in the catalog")
    if problems:
        raise ScenarioError(problems)
    assert tenant_id is not None
    fields = msgspec.structs.asdict(wanted)
    fields.update(tenant_id=tenant_id, date=wanted.date or today)
    return PolicyRequest(**fields)

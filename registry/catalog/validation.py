"""Cross-entry checks of a catalog, before anything is written.

Each problem is reported with the file, the entry and the field it is about; all problems are
collected, not only the first. References resolve against the catalog itself and, when loading
into a database that already holds a catalog, against that `existing` catalog (entries of the
new catalog replace existing ones with the same id).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from registry.catalog.entries import (
    OPERATOR,
    Agreement,
    Artifact,
    Catalog,
    LicenseDocument,
    Operator,
    Runner,
    Tenant,
)
from registry.catalog.errors import (
    SECTIONS,
    CatalogError,
    CatalogIssue,
    entry_id,
    entry_label,
    split_entry_validation_error,
)
from registry.catalog.files import SourcedCatalog
from registry.vocabulary import ArtifactKind, HostKind

__all__ = ["CatalogError", "CatalogIssue", "check_catalog", "validate_catalog"]


def validate_catalog(catalog: Catalog | SourcedCatalog, *, existing: Catalog | None = None) -> None:
    """Raise `CatalogError` listing every problem of `catalog` (resolved against `existing`)."""
    issues = check_catalog(catalog, existing=existing)
    if issues:
        raise CatalogError(issues)


def check_catalog(
    catalog: Catalog | SourcedCatalog, *, existing: Catalog | None = None
) -> list[CatalogIssue]:
    """Every problem of `catalog`, in file order; empty when it can be loaded."""
    sourced = catalog if isinstance(catalog, SourcedCatalog) else None
    plain = catalog.catalog if isinstance(catalog, SourcedCatalog) else catalog
    return _Checker(plain, sourced, existing or Catalog()).run()


class _Checker:
    def __init__(self, catalog: Catalog, sourced: SourcedCatalog | None, existing: Catalog) -> None:
        self.catalog = catalog
        self.sourced = sourced
        self.issues: list[CatalogIssue] = []
        self.licenses: dict[str, LicenseDocument] = {d.ref: d for d in existing.licenses}
        self.licenses.update((d.ref, d) for d in catalog.licenses)
        self.artifacts: dict[str, Artifact] = {a.id: a for a in existing.artifacts}
        self.artifacts.update((a.id, a) for a in catalog.artifacts)
        self.tenants: dict[str, Tenant] = {t.id: t for t in existing.tenants}
        self.tenants.update((t.id, t) for t in catalog.tenants)
        self.families = {d.family for d in self.licenses.values()}
        self.existing = existing
        self._where: tuple[str, int] = ("", 0)
        self._entry: object = None

    def run(self) -> list[CatalogIssue]:
        self._check_fields()
        self._check_duplicates()
        for section, check in (
            ("artifacts", self._check_artifact),
            ("tenants", self._check_tenant),
            ("agreements", self._check_agreement),
            ("runners", self._check_runner),
        ):
            for index, entry in enumerate(getattr(self.catalog, section)):
                self._at(section, index, entry)
                check(entry)
        if self.catalog.operator is not None:
            self._at("operator", 0, self.catalog.operator)
            self._check_operator(self.catalog.operator)
        self._check_cycles()
        for index, document in enumerate(self.catalog.licenses):
            self._at("licenses", index, document)
            self._check_terms_unchanged_if_used(document)
        return self.issues

    # -- reporting

    def _at(self, section: str, index: int, entry: object) -> None:
        self._where = (section, index)
        self._entry = entry

    def _report(self, field: str, message: str) -> None:
        section, index = self._where
        file = self.sourced.file_of(section, index) if self.sourced else None
        self.issues.append(
            CatalogIssue(file=file, entry=entry_label(section, self._entry), field=field, message=message)
        )

    # -- checks

    def _entries(self) -> Iterable[tuple[str, int, Any]]:
        for section in SECTIONS:
            for index, entry in enumerate(getattr(self.catalog, section)):
                yield section, index, entry
        if self.catalog.operator is not None:
            yield "operator", 0, self.catalog.operator

    def _check_fields(self) -> None:
        """Constraints of the Structs (ranges, patterns): a Struct built in Python skips them."""
        for section, index, entry in self._entries():
            try:
                msgspec.convert(msgspec.to_builtins(entry), type(entry))
            except msgspec.ValidationError as exc:
                message, field = split_entry_validation_error(exc)
                self._at(section, index, entry)
                self._report(field, message)

    def _check_duplicates(self) -> None:
        for section in SECTIONS:
            first: dict[str, int] = {}
            for index, entry in enumerate(getattr(self.catalog, section)):
                identity = entry_id(section, entry)
                if identity in first:
                    self._at(section, index, entry)
                    earlier = self._origin(section, first[identity])
                    self._report("", f"duplicate id {identity!r}, already defined {earlier}")
                else:
                    first[identity] = index

    def _origin(self, section: str, index: int) -> str:
        file = self.sourced.file_of(section, index) if self.sourced else None
        return f"in {file} ({section}[{index}])" if file else f"at {section}[{index}]"

    def _check_license_ref(self, field: str, ref: str, *, service_terms: bool) -> None:
        document = self.licenses.get(ref)
        if document is None:
            self._report(field, f"unknown license {ref!r}")
        elif service_terms and not document.service_terms:
            self._report(field, f"license {ref!r} is not a provider's service terms (service_terms: false)")

    def _check_artifact(self, artifact: Artifact) -> None:
        self._check_license_ref("license", artifact.license, service_terms=False)
        if artifact.kind is ArtifactKind.ADAPTER and not artifact.bases:
            self._report("bases", "an adapter needs at least one base model")
        for field, ids in (("bases", artifact.bases), ("components", artifact.components)):
            for position, other in enumerate(ids):
                if other == artifact.id:
                    self._report(f"{field}[{position}]", f"{artifact.id!r} cannot be its own {field[:-1]}")
                elif other not in self.artifacts:
                    noun = "base model" if field == "bases" else "component"
                    self._report(f"{field}[{position}]", f"unknown {noun} {other!r}")
            _report_repeats(ids, field, self._report)

    def _check_tenant(self, tenant: Tenant) -> None:
        if tenant.id == OPERATOR:
            self._report("id", f"{OPERATOR!r} is reserved for the operator's own agreements")

    def _check_operator(self, operator: Operator) -> None:
        # Agreements name the operator as holder `operator`: another id would orphan them.
        if operator.id != OPERATOR:
            self._report("id", f"the operator's id is always {OPERATOR!r}, not {operator.id!r}")

    def _check_agreement(self, agreement: Agreement) -> None:
        if agreement.holder != OPERATOR and agreement.holder not in self.tenants:
            self._report("holder", f"holder {agreement.holder!r} is no tenant (nor {OPERATOR!r})")
        covers = agreement.covers
        if not covers.license_families and not covers.artifacts:
            self._report("covers", "covers neither a license family nor an artifact")
        for position, family in enumerate(covers.license_families):
            if family not in self.families:
                self._report(f"covers.license_families[{position}]", f"no license of family {family!r}")
        for position, artifact in enumerate(covers.artifacts):
            if artifact not in self.artifacts:
                self._report(f"covers.artifacts[{position}]", f"unknown artifact {artifact!r}")
        if not agreement.purposes:
            self._report("purposes", "grants no purpose")
        _report_repeats(agreement.purposes, "purposes", self._report)
        if agreement.valid_until is not None and agreement.valid_until < agreement.valid_from:
            until, since = agreement.valid_until.isoformat(), agreement.valid_from.isoformat()
            self._report("valid_until", f"{until} is before valid_from {since}")

    def _check_runner(self, runner: Runner) -> None:
        if not runner.artifacts:
            self._report("artifacts", "serves no artifact")
        for position, artifact in enumerate(runner.artifacts):
            if artifact not in self.artifacts:
                self._report(f"artifacts[{position}]", f"unknown artifact {artifact!r}")
        _report_repeats(runner.artifacts, "artifacts", self._report)
        if runner.service_terms is not None:
            self._check_license_ref("service_terms", runner.service_terms, service_terms=True)
        if runner.host is HostKind.PROVIDER and not runner.provider:
            self._report("provider", "a runner hosted by a provider must name the provider")

    def _check_terms_unchanged_if_used(self, document: LicenseDocument) -> None:
        """A license version that stored artifacts or runners use is immutable: decisions cite it."""
        stored = next((d for d in self.existing.licenses if d.ref == document.ref), None)
        if stored is None or stored.terms == document.terms:
            return
        users = [f"artifact {a.id}" for a in self.existing.artifacts if a.license == document.ref]
        users += [f"runner {r.id}" for r in self.existing.runners if r.service_terms == document.ref]
        if users:
            shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
            self._report(
                "terms",
                f"the terms of {document.ref} differ from those stored, which {shown} already use; "
                "terms of a used license version are never edited in place: create a new version",
            )

    def _check_cycles(self) -> None:
        """Bases and components must form a DAG, or effective licenses cannot be computed."""
        positions = {a.id: i for i, a in enumerate(self.catalog.artifacts)}
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        reported: set[frozenset[str]] = set()

        def visit(node: str, path: list[str]) -> None:
            state[node] = 1
            path.append(node)
            artifact = self.artifacts.get(node)
            for other in (*artifact.bases, *artifact.components) if artifact else ():
                if state.get(other) == 1:
                    cycle = [*path[path.index(other) :], other]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self._report_cycle(cycle, positions)
                elif other not in state and other in self.artifacts:
                    visit(other, path)
            path.pop()
            state[node] = 2

        for artifact in self.catalog.artifacts:
            if artifact.id not in state:
                visit(artifact.id, [])

    def _report_cycle(self, cycle: Sequence[str], positions: dict[str, int]) -> None:
        owner = next((node for node in cycle if node in positions), cycle[0])
        index = positions.get(owner, 0)
        self._at("artifacts", index, self.catalog.artifacts[index] if owner in positions else None)
        artifact = self.artifacts[owner]
        successor = cycle[cycle.index(owner) + 1]
        field = "bases" if successor in artifact.bases else "components"
        self._report(field, "cycle in base models: " + " -> ".join(cycle))


def _report_repeats(values: Sequence[Any], field: str, report: Any) -> None:
    seen: set[Any] = set()
    for position, value in enumerate(values):
        if value in seen:
            report(f"{field}[{position}]", f"{str(value)!r} is listed twice")
        seen.add(value)

"""Finding declared base models among the catalog's artifacts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from registry.catalog.entries import Artifact, HuggingFaceSource
from registry.importers.errors import UnknownBaseError


class BaseIndex:
    """Artifacts by id, by lowercased id and by Hugging Face repo id (ids on the Hub are
    case-insensitive, cards often spell them differently)."""

    def __init__(self, artifacts: Iterable[Artifact]) -> None:
        self.by_id: dict[str, Artifact] = {a.id: a for a in artifacts}
        self._folded: dict[str, str] = {}
        for artifact in self.by_id.values():
            self._folded.setdefault(artifact.id.lower(), artifact.id)
            if isinstance(artifact.source, HuggingFaceSource):
                self._folded.setdefault(artifact.source.repo_id.lower(), artifact.id)

    def find(self, name: str) -> str | None:
        if name in self.by_id:
            return name
        return self._folded.get(name.strip().lower().removeprefix("https://huggingface.co/"))

    def resolve_all(self, names: Iterable[str], *, where: str) -> tuple[str, ...]:
        found: list[str] = []
        for name in names:
            artifact_id = self.find(name)
            if artifact_id is None:
                raise UnknownBaseError(
                    f"{where}: base model {name!r} is not in the catalog; import it first "
                    f"(clearance import hf {name}) or add it to the catalog"
                )
            if artifact_id not in found:
                found.append(artifact_id)
        return tuple(found)

    @property
    def artifacts(self) -> Mapping[str, Artifact]:
        return self.by_id

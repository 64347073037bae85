"""Importers: catalog entries for models and adapters found on Hugging Face and Civitai.

An import reads what the source declares (model card, repo metadata, Civitai JSON), pins what
will be loaded (revision, sha256 of every safetensors file) and resolves the license through the
alias table and the bases' derivative terms, so a wrong tag never widens what the policy allows.
The result is a catalog fragment; persisting it goes through the catalog store like any entry.
"""

from registry.importers.civitai import (
    import_civitai,
    import_civitai_document,
    import_civitai_file,
    import_civitai_url,
)
from registry.importers.errors import ImporterError
from registry.importers.huggingface import import_hf, parse_repo_ref
from registry.importers.persist import current_catalog, persist_import
from registry.importers.report import describe_import
from registry.importers.result import ImportResult

__all__ = [
    "ImportResult",
    "ImporterError",
    "current_catalog",
    "describe_import",
    "import_civitai",
    "import_civitai_document",
    "import_civitai_file",
    "import_civitai_url",
    "import_hf",
    "parse_repo_ref",
    "persist_import",
]

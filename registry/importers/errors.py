"""Why an import was refused. Each error names the file, entry or field at fault, and an import
that raises has written nothing."""

from __future__ import annotations

import json

NOT_JSON = (UnicodeDecodeError, json.JSONDecodeError, RecursionError)
"""What reading a JSON document the importers are given can raise: bytes that are not UTF-8, text
that is not JSON, and JSON nested past the interpreter's recursion limit (`json.loads` raises
RecursionError on a document a thousand levels deep)."""


class ImporterError(ValueError):
    """Base of every refused import."""


class ModelCardError(ImporterError):
    """The model card's YAML front matter is malformed or has fields of the wrong type."""


class MissingFileError(ImporterError):
    """A file the import needs (README.md, weights) is not there."""


class HashMismatchError(ImporterError):
    """A file's bytes do not match the sha256 its source recorded for it."""


class RevisionError(ImporterError):
    """The revision cannot be pinned, or two sources disagree about it."""


class PickleOnlyError(ImporterError):
    """The weights exist only in pickle formats, which Clearance never loads."""


class UnknownBaseError(ImporterError):
    """A declared base model is not in the catalog: import it first."""


class SourceFormatError(ImporterError):
    """The source document (Civitai JSON, Hub API answer) does not have the expected shape."""


class FetchError(ImporterError):
    """A URL could not be fetched, or was refused (private address, redirect, size cap)."""


class WeightsFormatError(ImporterError):
    """A file named `.safetensors` is not a readable safetensors file."""

"""The `license_flags` an import may set: findings about the metadata, noted for a reviewer and
never widening what the policy allows."""

from __future__ import annotations

DECLARED_MORE_PERMISSIVE_THAN_BASE = "declared_more_permissive_than_base"
"""The source declares a license wider than a base whose terms bind derivatives (an apache-2.0 tag
on a FLUX [dev] LoRA): the base's license is recorded as the artifact's own."""
LICENSE_MISSING = "license_missing"
"""The source declares no license at all: recorded as `unknown@0`."""
DECLARED_LICENSE_UNRECOGNISED = "declared_license_unrecognised"
"""The source declares a license that no catalog document or alias matches: `unknown@0`."""
LICENSE_TAKEN_FROM_BASE = "license_taken_from_base"
"""The source has no license field of its own (Civitai): the base's license is recorded."""
CREATOR_PERMISSIONS_MISSING = "creator_permissions_missing"
"""A Civitai model-version document without its model's permission flags: `unknown@0`."""
BASES_GIVEN_BY_OPERATOR = "bases_given_by_operator"
"""The bases were given at import (the card omits or misstates `base_model`)."""

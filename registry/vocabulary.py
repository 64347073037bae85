"""The shared vocabulary of DESIGN.md: used by the catalog, the policy engine, the API and the docs.

Extend these enums where a real license needs it; never rename a member, the values are stored.
"""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    PERSONAL = "personal"
    RESEARCH = "research"
    INTERNAL_EVALUATION = "internal_evaluation"
    CHARITABLE = "charitable"
    COMMERCIAL_INTERNAL = "commercial_internal"
    COMMERCIAL_PRODUCT = "commercial_product"
    HOSTED_SERVICE = "hosted_service"
    TRAIN_MODEL = "train_model"


COMMERCIAL_PURPOSES = frozenset(
    {Purpose.COMMERCIAL_INTERNAL, Purpose.COMMERCIAL_PRODUCT, Purpose.HOSTED_SERVICE}
)


class OutputUse(StrEnum):
    INTERNAL = "internal"
    PUBLISH = "publish"
    SELL = "sell"
    TRAIN_COMPETING_MODEL = "train_competing_model"
    TRAIN_FOUNDATION_MODEL = "train_foundation_model"
    TRAIN_ANY_MODEL = "train_any_model"


class GrantStatus(StrEnum):
    ALLOWED = "allowed"
    CONDITIONAL = "conditional"
    REQUIRES_AGREEMENT = "requires_agreement"
    DENIED = "denied"
    CONFLICTING = "conflicting"


class Decision(StrEnum):
    ALLOW = "allow"
    ALLOW_WITH_OBLIGATIONS = "allow_with_obligations"
    DENY = "deny"
    NEEDS_REVIEW = "needs_review"


class UseCase(StrEnum):
    MEDICAL_ADVICE = "medical_advice"
    AUTOMATED_LEGAL_DECISION = "automated_legal_decision"
    LAW_ENFORCEMENT = "law_enforcement"
    IMMIGRATION = "immigration"
    MILITARY = "military"
    SURVEILLANCE = "surveillance"
    BIOMETRIC_PROCESSING = "biometric_processing"
    DIGITAL_REPLICA = "digital_replica"
    POLITICAL_CAMPAIGN = "political_campaign"
    MINORS = "minors"
    # Added for CreativeML OpenRAIL Attachment A ("administration of justice").
    ADMINISTRATION_OF_JUSTICE = "administration_of_justice"


class ArtifactKind(StrEnum):
    BASE_MODEL = "base_model"
    ADAPTER = "adapter"
    COMPONENT = "component"
    PROVIDER_SERVICE = "provider_service"


class BaseRelation(StrEnum):
    ADAPTER = "adapter"
    FINETUNE = "finetune"
    MERGE = "merge"
    QUANTIZED = "quantized"


class Verification(StrEnum):
    """How sure the catalog is of a license's encoding (LICENSE-FACTS.md wording)."""

    VERIFIED = "verified"  # read from the licensor's own text
    SECONDARY = "secondary"  # known only from third parties
    UNCONFIRMED = "unconfirmed"  # no source settled it


class OrganisationType(StrEnum):
    INDIVIDUAL = "individual"
    COMPANY = "company"
    NONPROFIT = "nonprofit"
    RESEARCH_INSTITUTION = "research_institution"
    EDUCATIONAL = "educational"
    GOVERNMENT = "government"


class ObligationKind(StrEnum):
    ATTRIBUTION = "attribution"  # keep a notice / credit text
    POWERED_BY = "powered_by"  # display "Powered by ..."
    CONTENT_FILTER = "content_filter"  # content filter or human review of outputs
    AI_DISCLOSURE = "ai_disclosure"
    REGISTRATION = "registration"
    USAGE_METERING = "usage_metering"  # report usage to the licensor's endpoint
    PROPAGATE_USE_RESTRICTIONS = "propagate_use_restrictions"  # into the tenant's user terms
    USE_LATEST_VERSION = "use_latest_version"


class CivitaiCommercialUse(StrEnum):
    IMAGE = "Image"
    RENT = "Rent"
    RENT_CIVIT = "RentCivit"
    SELL = "Sell"


class HostKind(StrEnum):
    OPERATOR = "operator"
    PROVIDER = "provider"


class RunnerKind(StrEnum):
    LOCAL_DIFFUSERS = "local_diffusers"
    OPENAI_IMAGES = "openai_images"
    FAL_QUEUE = "fal_queue"
    BFL_API = "bfl_api"  # Black Forest Labs' FLUX API (submit, then poll for the result)

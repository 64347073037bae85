"""`POST /v1/policy/evaluate`: a dry run of the license policy for the caller's tenant."""

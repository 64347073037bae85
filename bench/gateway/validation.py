"""The in-process cost of token validation, without HTTP: cached token, first sight (one ES256
verification) and a rejected forgery."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.auth.errors import InvalidTokenError
from gateway.auth.token_validation import AccessTokenValidator
from gateway.oauth.access_tokens import AccessTokenIssuer
from gateway.oauth.keyring import SigningKey, SigningKeyring
from gateway.oauth.revocation import RevocationList

ISSUER = "https://bench.example"


@dataclass(frozen=True)
class ValidationFigures:
    samples: int
    cached_us: float
    first_sight_us: float
    rejected_us: float


async def time_validation(samples: int = 2000) -> ValidationFigures:
    private = ECKey.generate_key("P-256", auto_kid=True)
    public = ECKey.import_key(private.as_dict(private=False))
    keyring = SigningKeyring()
    assert private.kid is not None
    keyring.replace(
        [SigningKey(private.kid, private, public, public.as_dict(), dt.datetime.now(dt.UTC), None, None)]
    )
    validator = AccessTokenValidator(
        keyring=keyring,
        revocations=RevocationList(),
        issuer=ISSUER,
        audience="clearance",
        leeway_seconds=30,
        max_token_bytes=4096,
        external_issuers={},
        cache_size=samples * 2,
    )
    issuer = AccessTokenIssuer(keyring, issuer=ISSUER, audience="clearance", lifetime_seconds=900)
    tokens = [
        issuer.issue(client_id="c", tenant_id="t", scopes=("models:read",)).access_token
        for _ in range(samples)
    ]

    first_sight = [await _timed(validator, token) for token in tokens]
    cached = [await _timed(validator, tokens[0]) for _ in range(samples)]
    forged = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": private.kid},
        {"iss": ISSUER},
        ECKey.generate_key("P-256"),
        algorithms=["ES256"],
    )
    rejected = [await _timed(validator, forged, expect_failure=True) for _ in range(samples // 4)]
    return ValidationFigures(
        samples=samples,
        cached_us=statistics.median(cached),
        first_sight_us=statistics.median(first_sight),
        rejected_us=statistics.median(rejected),
    )


async def _timed(validator: AccessTokenValidator, token: str, *, expect_failure: bool = False) -> float:
    started = time.perf_counter()
    try:
        await validator.validate(token)
    except InvalidTokenError:
        if not expect_failure:
            raise
    return (time.perf_counter() - started) * 1e6

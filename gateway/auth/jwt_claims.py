"""Reading a compact JWS before verifying it, and checking registered claims explicitly
(joserfc's decode verifies the signature only)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from gateway.auth.errors import InvalidTokenError

# Headers that point at or embed a key. The key always comes from our keyring or the issuer's
# configured JWKS, so a token carrying any of them is refused outright.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, unverified: only to pick the issuer and key."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidTokenError("not a compact JWS")
    return _segment(parts[0], "header"), _segment(parts[1], "payload")


def _segment(text: str, name: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidTokenError(f"{name} is not base64url JSON") from exc
    except RecursionError as exc:  # nested deeper than the decoder can go: a crafted token
        raise InvalidTokenError(f"{name} nests too deeply") from exc
    if not isinstance(value, dict):
        raise InvalidTokenError(f"{name} is not a JSON object")
    return value


def check_header(header: dict[str, Any], algorithms: tuple[str, ...], token_types: tuple[str, ...]) -> str:
    """The `kid` of an acceptable header."""
    embedded = FORBIDDEN_HEADERS.intersection(header)
    if embedded:
        raise InvalidTokenError(f"header carries {sorted(embedded)}")
    if header.get("alg") not in algorithms:
        raise InvalidTokenError(f"alg {header.get('alg')!r} not allowed")
    typ = header.get("typ")
    if not isinstance(typ, str) or _media_type(typ) not in token_types:
        raise InvalidTokenError(f"typ {typ!r} not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError("kid missing")
    return kid


def _media_type(typ: str) -> str:
    lowered = typ.lower()
    return lowered.removeprefix("application/")


def check_time_claims(claims: dict[str, Any], now: float, leeway: float) -> float:
    """The `exp` of a token that is not expired (`now >= exp` is expired: no leeway on `exp`)
    and not used before its `nbf`/`iat` (small leeway for clock skew)."""
    exp = _number(claims, "exp")
    if exp is None or now >= exp:
        raise InvalidTokenError("expired or no exp")
    iat = _number(claims, "iat")
    if iat is None or iat > now + leeway:
        raise InvalidTokenError("iat missing or in the future")
    nbf = _number(claims, "nbf")
    if "nbf" in claims and (nbf is None or nbf > now + leeway):
        raise InvalidTokenError("not valid yet")
    return exp


def check_audience(claims: dict[str, Any], audience: str) -> None:
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or audience not in values:
        raise InvalidTokenError("audience mismatch")


def string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidTokenError(f"{name} missing")
    return value


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)

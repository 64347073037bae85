"""Signed, expiring image links: what OpenAI's `response_format=url` promises (a URL anyone holding
it can fetch for an hour, no credentials), for the images of one job.

`/v1/images/files/{job}/{n}?expires=<unix seconds>&signature=<HMAC>`: the HMAC-SHA256 of job, index
and expiry under a key derived from the server's secret pepper, which every replica shares, so a
link signed by one process is honoured by all of them (with a shared image store). A link cannot be
widened: another job, another index or a later expiry breaks its signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

LINK_KEY_CONTEXT = b"clearance image links v1"


class ImageLinkError(Exception):
    """A link that expired or whose signature does not match (403)."""


class ImageLinks:
    def __init__(self, pepper: bytes, *, lifetime_s: int) -> None:
        if lifetime_s < 1:
            raise ValueError(f"an image link must live at least 1 s, got {lifetime_s}")
        self._key = hmac.new(pepper, LINK_KEY_CONTEXT, hashlib.sha256).digest()
        self.lifetime_s = lifetime_s

    def path(self, job_id: str, index: int, *, now: float) -> str:
        """The link's path and query, valid for `lifetime_s` from `now`."""
        expires = int(now) + self.lifetime_s
        signature = self._sign(job_id, index, expires)
        return f"/v1/images/files/{job_id}/{index}?expires={expires}&signature={signature}"

    def check(self, job_id: str, index: int, expires: int, signature: str, *, now: float) -> None:
        """Raise `ImageLinkError` unless the link was signed here and has not expired."""
        if not hmac.compare_digest(signature.encode(), self._sign(job_id, index, expires).encode()):
            raise ImageLinkError("the image link's signature does not match: ask for the image again")
        if expires <= now:
            raise ImageLinkError("the image link expired: ask for the image again")

    def _sign(self, job_id: str, index: int, expires: int) -> str:
        digest = hmac.new(self._key, f"{job_id}\n{index}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

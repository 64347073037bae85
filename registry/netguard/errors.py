"""The one error of the outbound guard."""

from __future__ import annotations


class UnsafeUrlError(ValueError):
    """An outbound URL (or an address it resolves to) that Clearance refuses to contact.

    `reason` is precise and safe to show to the tenant who supplied the URL.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"refused outbound URL {url!r}: {reason}")
        self.url = url
        self.reason = reason

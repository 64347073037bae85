"""Signed image links: valid until they expire, for the job and index they were signed for, under
the pepper they were signed with."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.storage.links import ImageLinkError, ImageLinks

PEPPER = b"p" * 32
NOW = 1_800_000_000.0


def parts(path: str) -> tuple[str, int, int, str]:
    split = urlsplit(path)
    *_, job_id, index = split.path.split("/")
    query = parse_qs(split.query)
    return job_id, int(index), int(query["expires"][0]), query["signature"][0]


def test_a_link_holds_for_its_lifetime_and_not_after() -> None:
    links = ImageLinks(PEPPER, lifetime_s=3600)
    path = links.path("job_01", 2, now=NOW)
    assert path.startswith("/v1/images/files/job_01/2?expires=1800003600&signature=")
    job_id, index, expires, signature = parts(path)
    links.check(job_id, index, expires, signature, now=NOW + 3599)
    with pytest.raises(ImageLinkError, match="expired"):
        links.check(job_id, index, expires, signature, now=NOW + 3600)


@pytest.mark.parametrize(
    "change",
    [
        lambda j, i, e, s: ("job_02", i, e, s),
        lambda j, i, e, s: (j, i + 1, e, s),
        lambda j, i, e, s: (j, i, e + 1, s),
        lambda j, i, e, s: (j, i, e, s[:-1] + ("A" if s[-1] != "A" else "B")),
        lambda j, i, e, s: (j, i, e, ""),
    ],
)
def test_a_link_cannot_be_widened(change: object) -> None:
    links = ImageLinks(PEPPER, lifetime_s=3600)
    forged = change(*parts(links.path("job_01", 0, now=NOW)))  # type: ignore[operator]
    with pytest.raises(ImageLinkError, match="signature"):
        links.check(*forged, now=NOW)


def test_another_pepper_does_not_honour_the_link() -> None:
    link = parts(ImageLinks(PEPPER, lifetime_s=60).path("job_01", 0, now=NOW))
    with pytest.raises(ImageLinkError, match="signature"):
        ImageLinks(b"q" * 32, lifetime_s=60).check(*link, now=NOW)
    ImageLinks(PEPPER, lifetime_s=7).check(*link, now=NOW)  # same pepper: any replica, any lifetime


def test_a_lifetime_under_a_second_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 s"):
        ImageLinks(PEPPER, lifetime_s=0)

"""The outbound guard: an SSRF corpus against a canary on loopback that must receive nothing."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from registry.netguard import (
    GuardedSession,
    OutboundPolicy,
    UnsafeUrlError,
    check_url,
    refusal_reason,
    vet_url,
)
from registry.netguard.policy import AllowEntry, AllowlistEntryError
from tests.support_loopback import LoopbackServer


@pytest.fixture
async def canary() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def allowed() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


def corpus(canary: int) -> list[str]:
    return [
        f"http://127.0.0.1:{canary}/",
        f"https://127.0.0.1:{canary}/",
        f"http://localhost:{canary}/",
        f"http://LOCALHOST.:{canary}/",
        f"http://[::1]:{canary}/",
        f"http://0.0.0.0:{canary}/",
        f"http://[::]:{canary}/",
        f"http://[::ffff:127.0.0.1]:{canary}/",
        f"http://[::ffff:7f00:1]:{canary}/",
        f"http://[::127.0.0.1]:{canary}/",
        f"http://[64:ff9b::127.0.0.1]:{canary}/",
        f"http://[2002:7f00:1::]:{canary}/",
        f"http://2130706433:{canary}/",
        f"http://0177.0.0.1:{canary}/",
        f"http://0x7f.0.0.1:{canary}/",
        f"http://0x7f000001:{canary}/",
        f"http://127.1:{canary}/",
        f"http://017700000001:{canary}/",
        f"http://user@127.0.0.1:{canary}/",
        f"http://user:pass@127.0.0.1:{canary}/",
        f"http://example.com@127.0.0.1:{canary}/",
        f"http://127.0.0.1:{canary}\\@example.com/",
        f"http://127.0.0.1:{canary} /",
        f"http://127.0.0.1%2f:{canary}/",
        f"http://[::1%25lo]:{canary}/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fd12::1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://198.18.0.1/",
        f"ftp://127.0.0.1:{canary}/",
        "file:///etc/passwd",
        f"gopher://127.0.0.1:{canary}/_",
        "//example.com/",
        "http:///path-only",
        f"http://127.0.0.1:{canary}:80/",
        "http://example.com:0/",
        "http://example.com:99999/",
    ]


async def test_every_url_of_the_corpus_is_refused_and_the_canary_hears_nothing(
    canary: LoopbackServer, allowed: LoopbackServer
) -> None:
    policy = OutboundPolicy.from_settings(allow_http=True, allowlist=f"127.0.0.1:{allowed.port}")
    async with GuardedSession(policy) as http:
        for url in corpus(canary.port):
            with pytest.raises(UnsafeUrlError) as refused:
                async with http.request("POST", url, data=b"{}"):
                    pass
            assert refused.value.reason, url
    assert canary.received == []


async def test_http_is_refused_unless_configured() -> None:
    with pytest.raises(UnsafeUrlError, match="scheme 'http' not allowed"):
        check_url("http://hooks.example.com/", OutboundPolicy())
    assert check_url("http://hooks.example.com/x", OutboundPolicy(allow_http=True)).port == 80


async def test_a_redirect_from_an_allowlisted_server_is_not_followed(
    canary: LoopbackServer, allowed: LoopbackServer
) -> None:
    async def redirect(request: web.Request, n: int) -> web.StreamResponse:
        raise web.HTTPFound(location=f"http://127.0.0.1:{canary.port}/stolen")

    allowed.respond = redirect
    policy = OutboundPolicy.from_settings(allow_http=True, allowlist=[f"127.0.0.1:{allowed.port}"])
    async with (
        GuardedSession(policy) as http,
        http.request("POST", f"{allowed.base}/hook", data=b"{}") as resp,
    ):
        assert resp.status == 302
    assert len(allowed.received) == 1
    assert canary.received == []


async def test_the_connection_goes_to_the_vetted_address_with_the_host_header_kept(
    allowed: LoopbackServer,
) -> None:
    async def fake_dns(host: str, port: int) -> list[str]:
        return {"receiver.test": ["127.0.0.1"], "rebind.test": ["93.184.215.14", "127.0.0.1"]}[host]

    policy = OutboundPolicy.from_settings(allow_http=True, allowlist=[f"receiver.test:{allowed.port}"])
    async with GuardedSession(policy, resolve=fake_dns) as http:
        async with http.request("POST", f"http://receiver.test:{allowed.port}/in", data=b"x") as resp:
            assert resp.status == 204
        with pytest.raises(UnsafeUrlError, match="loopback"):
            async with http.request("POST", f"http://rebind.test:{allowed.port}/in", data=b"x"):
                pass
    assert [r.headers["Host"] for r in allowed.received] == [f"receiver.test:{allowed.port}"]


async def test_vet_url_returns_the_addresses_to_pin() -> None:
    async def fake_dns(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14"]

    vetted = await vet_url("https://hooks.example.com/x", OutboundPolicy(), resolve=fake_dns)
    assert vetted.addresses == ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert vetted.target.host == "hooks.example.com"
    assert vetted.target.port == 443


async def test_one_private_answer_among_public_ones_refuses_the_host() -> None:
    async def fake_dns(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.1.2.3"]

    with pytest.raises(UnsafeUrlError, match=r"10\.1\.2\.3 is a private address"):
        await vet_url("https://mixed.example.com/", OutboundPolicy(), resolve=fake_dns)


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    async def no_dns(host: str, port: int) -> list[str]:
        raise OSError("name or service not known")

    with pytest.raises(UnsafeUrlError, match="does not resolve"):
        await vet_url("https://nowhere.invalid/", OutboundPolicy(), resolve=no_dns)


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("169.254.169.254", "cloud metadata"),
        ("100.64.1.1", "carrier-grade NAT"),
        ("0.1.2.3", "0.0.0.0/8"),
        ("::ffff:10.0.0.1", "embeds IPv4 10.0.0.1"),
        ("ff02::1", "multicast"),
        ("fe80::1", "link-local"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_refusal_reasons_are_precise(address: str, fragment: str) -> None:
    reason = refusal_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert fragment in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_admitted(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_allowlist_entries_parse_and_bad_ones_are_named() -> None:
    assert AllowEntry.parse("10.0.0.0/8").network == ipaddress.ip_network("10.0.0.0/8")
    assert AllowEntry.parse("[::1]:8443") == AllowEntry(host="::1", port=8443)
    assert AllowEntry.parse("Hooks.Internal:443") == AllowEntry(host="hooks.internal", port=443)
    with pytest.raises(AllowlistEntryError, match=r"'hooks\.internal'"):
        AllowEntry.parse("hooks.internal")


def test_a_cidr_allowlist_admits_private_addresses_on_any_port() -> None:
    policy = OutboundPolicy.from_settings(allow_http=True, allowlist="10.0.0.0/8, 192.168.5.0/24")
    assert check_url("http://10.2.3.4:8080/", policy).address == ipaddress.ip_address("10.2.3.4")
    with pytest.raises(UnsafeUrlError):
        check_url("http://10.2.3.4@192.168.6.1/", policy)


def test_allowed_ports_restrict_the_port() -> None:
    policy = OutboundPolicy.from_settings(allowed_ports=[443])
    assert check_url("https://hooks.example.com/", policy).port == 443
    with pytest.raises(UnsafeUrlError, match="port 8443 not allowed"):
        check_url("https://hooks.example.com:8443/", policy)

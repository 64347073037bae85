"""Which IP addresses are never contacted: anything that is not a public unicast address.

IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64) are
judged by the embedded address too, so `::ffff:127.0.0.1` is as loopback as `127.0.0.1`.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CLOUD_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)

_NAMED_V4_NETWORKS: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (ipaddress.IPv4Network("0.0.0.0/8"), "'this network' address (0.0.0.0/8)"),
    (ipaddress.IPv4Network("100.64.0.0/10"), "carrier-grade NAT address (100.64.0.0/10)"),
    (ipaddress.IPv4Network("192.0.0.0/24"), "IETF protocol assignment (192.0.0.0/24)"),
    (ipaddress.IPv4Network("198.18.0.0/15"), "benchmarking address (198.18.0.0/15)"),
    (ipaddress.IPv4Network("255.255.255.255/32"), "broadcast address"),
)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` must not be contacted, or None when it is a public unicast address."""
    if address in CLOUD_METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = refusal_reason(embedded)
            if inner is not None:
                return f"{address} embeds IPv4 {embedded}: {inner}"
        if address.scope_id:
            return f"{address} carries a zone index"
    if isinstance(address, ipaddress.IPv4Address):
        for network, description in _NAMED_V4_NETWORKS:
            if address in network:
                return f"{address} is a {description}"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
    )
    for flagged, kind in checks:
        if flagged:
            article = "an" if kind[0] in "aeiou" else "a"
            return f"{address} is {article} {kind} address"
    if not address.is_global:
        return f"{address} is not a globally routable address"
    return None

"""What the operator allows beyond the default rules: plain http, and an explicit allowlist."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from registry.netguard.addresses import IPAddress


class AllowlistEntryError(ValueError):
    """An allowlist entry that is neither a CIDR nor `host:port`."""


@dataclass(frozen=True)
class AllowEntry:
    """One allowlist entry: a network (any port), or one host (name or IP) on one port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        """`10.0.0.0/8`, `127.0.0.1:8080`, `[::1]:8443` or `hooks.internal:443`."""
        entry = text.strip()
        if not entry:
            raise AllowlistEntryError("empty allowlist entry")
        if "/" in entry:
            try:
                return cls(network=ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise AllowlistEntryError(f"allowlist entry {text!r}: {exc}") from exc
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port_text = rest.removeprefix(":")
        else:
            host, sep, port_text = entry.rpartition(":")
            if not sep:
                host, port_text = entry, ""
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise AllowlistEntryError(
                f"allowlist entry {text!r}: expected a CIDR (10.0.0.0/8) or host:port (127.0.0.1:8080)"
            )
        return cls(host=host.lower().rstrip("."), port=int(port_text))

    def admits(self, host: str, port: int, address: IPAddress) -> bool:
        if self.network is not None:
            return address.version == self.network.version and address in self.network
        if self.port != port or self.host is None:
            return False
        if self.host == host:
            return True
        try:
            return ipaddress.ip_address(self.host) == address
        except ValueError:
            return False


@dataclass(frozen=True)
class OutboundPolicy:
    """The rules for one kind of outbound traffic; the default is the strict one."""

    allow_http: bool = False
    """Plain http is refused unless set (tests, a private deployment)."""
    allowlist: tuple[AllowEntry, ...] = ()
    """Addresses admitted even when private or loopback (tests, an internal receiver)."""
    allowed_ports: frozenset[int] | None = field(default=None)
    """When set, only these ports; None admits any port from 1 to 65535."""

    @classmethod
    def from_settings(
        cls,
        *,
        allow_http: bool = False,
        allowlist: Iterable[str] | str = (),
        allowed_ports: Iterable[int] = (),
    ) -> OutboundPolicy:
        """Build from settings; `allowlist` may be a comma-separated string."""
        entries = allowlist.split(",") if isinstance(allowlist, str) else list(allowlist)
        ports = frozenset(allowed_ports)
        return cls(
            allow_http=allow_http,
            allowlist=tuple(AllowEntry.parse(e) for e in entries if e.strip()),
            allowed_ports=ports or None,
        )

    def admits_address(self, host: str, port: int, address: IPAddress) -> bool:
        return any(entry.admits(host, port, address) for entry in self.allowlist)

"""Which webhook URLs and target addresses dsync may call (SSRF protection).

Pure: `validate_url` (shape) and `TargetPolicy.refusal` (address classes). I/O:
`check_target` resolves a host once at registration; `SafeResolver` is the aiohttp resolver
used at delivery time, so the addresses actually connected to are the checked ones (DNS
rebinding between registration and delivery is caught).

Always refused: link-local (169.254.0.0/16, fe80::/10), cloud metadata addresses,
unspecified, multicast, broadcast and reserved ranges. Loopback only with
`allow_loopback`; private ranges (RFC 1918, CGNAT, fc00::/7) only with `allow_private`.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16",
    "fd00:ec2::254", "192.0.0.192"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeTarget(OSError):  # noqa: N818 - an OSError so aiohttp reports it as a DNS failure
    """The URL or an address it resolves to is not allowed. `str()` says why."""


class InvalidUrl(UnsafeTarget):
    """The URL itself is malformed: not http(s), no host, credentials, bad port."""


class RefusedAddress(UnsafeTarget):
    """The URL is well formed but its host is (or resolves to) a refused address."""


@dataclass(frozen=True)
class TargetPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    def refusal(self, address: IP) -> str | None:
        """Why `address` is refused, or None when it may be called."""
        ip = _unwrap(address)
        if ip in METADATA:
            return f"{ip} is a cloud metadata address"
        if ip.is_loopback:
            return None if self.allow_loopback else f"{ip} is a loopback address"
        if ip.is_link_local:
            return f"{ip} is a link-local address"
        if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
            return f"{ip} is not a unicast address"
        if ip.is_private or (ip.version == 4 and ip in _CGNAT):
            return None if self.allow_private else f"{ip} is a private address"
        if not ip.is_global:
            return f"{ip} is not a public address"
        return None


def _unwrap(ip: IP) -> IP:
    """The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address, else `ip` itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def validate_url(url: object) -> SplitResult:
    """The parsed URL when it is an absolute http(s) URL with a host and no credentials.

    Raises InvalidUrl with the reason otherwise. Does not look at addresses.
    """
    if not isinstance(url, str) or not url:
        raise InvalidUrl("'url' must be a non-empty string")
    if len(url) > MAX_URL_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise InvalidUrl("'url' is too long or contains whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidUrl("'url' must use http or https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidUrl("'url' must not contain credentials")
    if not parts.hostname:
        raise InvalidUrl("'url' must name a host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidUrl("'url' has an invalid port") from None
    return parts


def literal_address(host: str) -> IP | None:
    """`host` as an IP address when it is one (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def check_literal(host: str, policy: TargetPolicy) -> None:
    """Raise RefusedAddress when `host` is a refused IP literal or a `localhost` name."""
    ip = literal_address(host)
    if ip is None and (host.lower().rstrip(".") == "localhost"
                       or host.lower().rstrip(".").endswith(".localhost")):
        ip = ipaddress.ip_address("127.0.0.1")
    if ip is not None and (why := policy.refusal(ip)):
        raise RefusedAddress(f"target refused: {why}")


async def check_target(url: str, policy: TargetPolicy, *, timeout_s: float = 3.0) -> None:
    """Registration check: shape, then every address the host resolves to now.

    Raises UnsafeTarget when refused. A host that does not resolve (yet) is accepted: the
    same check runs again at every delivery.
    """
    host = validate_url(url).hostname or ""
    check_literal(host, policy)
    if literal_address(host) is not None:
        return
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
            host, None, type=socket.SOCK_STREAM), timeout_s)
    except (OSError, TimeoutError):
        return
    for info in infos:
        if why := policy.refusal(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])):
            raise RefusedAddress(f"target refused: {host} resolves to a refused address ({why})")


class SafeResolver(AbstractResolver):
    """aiohttp resolver that refuses (UnsafeTarget) when any resolved address is refused."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        check_literal(host, self.policy)
        results: list[ResolveResult] = await self._inner.resolve(host, port, family)
        for r in results:
            if why := self.policy.refusal(ipaddress.ip_address(r["host"])):
                raise RefusedAddress(
                    f"target refused: {host} resolves to a refused address ({why})")
        return results

    async def close(self) -> None:
        await self._inner.close()

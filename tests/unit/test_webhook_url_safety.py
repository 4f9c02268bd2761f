"""SSRF policy for webhook targets: URL shape and address classes."""
from __future__ import annotations

import ipaddress

import pytest

from dsync_services.fanout.url_safety import (
    InvalidUrl,
    RefusedAddress,
    TargetPolicy,
    check_literal,
    check_target,
    validate_url,
)

STRICT = TargetPolicy()
LOOPBACK_OK = TargetPolicy(allow_loopback=True)
PRIVATE_OK = TargetPolicy(allow_private=True)
EVERYTHING_OK = TargetPolicy(allow_loopback=True, allow_private=True)


def refused(policy: TargetPolicy, address: str) -> bool:
    return policy.refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "fc00::1", "fd12:3456::1",
])
def test_private_ranges_only_when_allowed(address: str) -> None:
    assert refused(STRICT, address) and refused(LOOPBACK_OK, address)
    assert not refused(PRIVATE_OK, address)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_loopback_only_when_allowed(address: str) -> None:
    assert refused(STRICT, address) and refused(PRIVATE_OK, address)
    assert not refused(LOOPBACK_OK, address)


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.1.1", "fe80::1", "fd00:ec2::254", "100.100.100.200",
    "168.63.129.16", "0.0.0.0", "::",  # noqa: S104 "224.0.0.1", "255.255.255.255", "240.0.0.1",
    "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe",
])
def test_link_local_metadata_and_non_unicast_are_always_refused(address: str) -> None:
    if address == "::ffff:10.0.0.1":
        assert refused(STRICT, address) and not refused(PRIVATE_OK, address)
        return
    assert refused(EVERYTHING_OK, address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not refused(STRICT, address)


@pytest.mark.parametrize("url", [
    "", "ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/",
    "http://user@example.com/", "http:///path", "https://example.com:99999/",
    "https://exa mple.com/", "http://example.com/\n", "//example.com/", 42,
    "gopher://127.0.0.1:6379/_", "https://" + "a" * 3000 + ".com/",
])
def test_malformed_urls_are_invalid(url: object) -> None:
    with pytest.raises(InvalidUrl):
        validate_url(url)


def test_good_url_parses() -> None:
    parts = validate_url("https://hooks.example.com:8443/dsync?x=1")
    assert parts.hostname == "hooks.example.com" and parts.port == 8443


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost", "127.0.0.1",
                                  "[::1]", "10.0.0.1", "169.254.169.254"])
def test_literal_hosts_and_localhost_names(host: str) -> None:
    with pytest.raises(RefusedAddress):
        check_literal(host, STRICT)


async def test_check_target_resolves_names_and_refuses_private_results() -> None:
    with pytest.raises(RefusedAddress):
        await check_target("http://localhost:8080/hook", STRICT)
    await check_target("http://localhost:8080/hook", LOOPBACK_OK)
    with pytest.raises(RefusedAddress):
        await check_target("http://10.0.0.1/hook", LOOPBACK_OK)
    with pytest.raises(RefusedAddress):
        await check_target("http://169.254.169.254/latest/meta-data/", EVERYTHING_OK)
    # a name that does not resolve (yet) is accepted: delivery checks again
    await check_target("https://does-not-exist.invalid/hook", STRICT)

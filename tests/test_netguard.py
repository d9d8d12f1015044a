"""The private-address guard: pure classification of literal addresses, and URLs (no internet needed)."""

from __future__ import annotations

import ipaddress

import pytest

from watcher.errors import FetchError, RefusedAddressError
from watcher.netguard import address_refusal, check_url_allowed, resolve

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata service
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", None),  # reserved (the label differs between Python versions)
    ("255.255.255.255", None),
    ("192.0.2.10", None),  # documentation
    ("198.18.0.1", None),  # benchmarking
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "embeds 127.0.0.1, loopback"),
    ("::ffff:10.1.2.3", "embeds 10.1.2.3, private"),
    ("2002:7f00:1::", "embeds 127.0.0.1, loopback"),  # 6to4
    ("2002:c0a8:101::1", "embeds 192.168.1.1, private"),
    ("64:ff9b::a00:1", "embeds 10.0.0.1, private"),  # NAT64
    ("2001:db8::1", None),  # documentation
]

ALLOWED = ["8.8.8.8", "93.184.216.34", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8",
           "2002:808:808::1", "64:ff9b::808:808", "100.63.255.255", "100.128.0.1"]


@pytest.mark.parametrize("address, reason", REFUSED)
def test_non_public_addresses_are_refused(address: str, reason: str | None) -> None:
    refusal = address_refusal(ipaddress.ip_address(address))
    assert refusal is not None
    if reason is not None:
        assert refusal == reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.0.0.1:8080/admin", "https://[::1]/", "http://localhost/",
    "http://LOCALHOST:80/", "http://127.1/", "http://2130706433/", "http://0x7f000001/",
    "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/",
    "http://100.64.1.1/", "http://0.0.0.0:5432/", "http://user:pw@10.0.0.1/",
])
def test_private_urls_are_refused(url: str) -> None:
    with pytest.raises(RefusedAddressError) as caught:
        check_url_allowed(url, allow_private=False)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("refused ")
    assert caught.value.kind == "refused_address" and caught.value.transient is False


def test_refusal_names_host_and_address() -> None:
    with pytest.raises(RefusedAddressError, match=r"refused localhost \(127\.0\.0\.1\): loopback address"):
        check_url_allowed("http://localhost:8000/", allow_private=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://8.8.8.8/", "gopher://8.8.8.8/",
                                 "javascript:alert(1)", "data:text/html,hi", "8.8.8.8/page", "http:///path"])
def test_other_schemes_and_hostless_urls_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(RefusedAddressError):
        check_url_allowed(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "https://[2001:4860:4860::8888]:443/x?y=1"])
def test_public_literal_urls_are_allowed(url: str) -> None:
    check_url_allowed(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://localhost/", "http://[::1]/"])
def test_allow_private_lifts_the_address_rule(url: str) -> None:
    check_url_allowed(url, allow_private=True)


def test_localhost_resolves_to_loopback_only() -> None:
    addresses = resolve("localhost")
    assert addresses and all(address.is_loopback for address in addresses)


def test_unresolvable_host_is_a_dns_fetch_error() -> None:
    with pytest.raises(FetchError) as caught:
        check_url_allowed("http://does-not-exist.invalid/", allow_private=False)
    assert caught.value.kind == "dns" and not isinstance(caught.value, RefusedAddressError)

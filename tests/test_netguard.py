"""The private-address guard: pure classification of literal addresses, and URLs (no internet needed)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlparse, urlsplit

import pytest

from watcher.errors import FetchError, InputError, RefusedAddressError
from watcher.netguard import (
    ALL_NETWORKS,
    LOOPBACK_NETWORKS,
    AddressChecker,
    Network,
    address_refusal,
    check_address,
    check_new_source,
    check_scheme_and_host,
    check_url_allowed,
    literal_address,
    parse_networks,
    resolve,
)

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

ALLOWED = [
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
    "100.63.255.255",
    "100.128.0.1",
]


@pytest.mark.parametrize("address, reason", REFUSED)
def test_non_public_addresses_are_refused(address: str, reason: str | None) -> None:
    refusal = address_refusal(ipaddress.ip_address(address))
    assert refusal is not None
    if reason is not None:
        assert refusal == reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


PRIVATE_URLS = [
    "http://127.0.0.1/", "http://127.0.0.1:8080/admin", "https://[::1]/", "http://localhost/",
    "http://LOCALHOST:80/", "http://127.1/", "http://2130706433/", "http://0x7f000001/",
    "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/",
    "http://100.64.1.1/", "http://0.0.0.0:5432/", "http://user:pw@10.0.0.1/", "http://192.168.1.1/admin",
    "http://240.0.0.1/", "http://100.100.100.200/",
]  # fmt: skip


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_urls_are_refused(url: str) -> None:
    with pytest.raises(RefusedAddressError) as caught:
        check_url_allowed(url)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("refused ")
    assert caught.value.kind == "refused_address" and caught.value.transient is False


def test_refusal_names_host_and_address() -> None:
    with pytest.raises(RefusedAddressError, match=r"refused localhost \(127\.0\.0\.1\): loopback address"):
        check_url_allowed("http://localhost:8000/")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://8.8.8.8/",
        "gopher://8.8.8.8/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "8.8.8.8/page",
        "http:///path",
    ],
)
def test_other_schemes_and_hostless_urls_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(RefusedAddressError):
        check_url_allowed(url, allowed=ALL_NETWORKS)


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "https://[2001:4860:4860::8888]:443/x?y=1"])
def test_public_literal_urls_are_allowed(url: str) -> None:
    check_url_allowed(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://localhost/", "http://[::1]/"])
def test_allowed_networks_lift_the_address_rule(url: str) -> None:
    check_url_allowed(url, allowed=LOOPBACK_NETWORKS)
    check_url_allowed(url, allowed=ALL_NETWORKS)


def test_localhost_resolves_to_loopback_only() -> None:
    addresses = resolve("localhost")
    assert addresses and all(address.is_loopback for address in addresses)


def test_unresolvable_host_is_a_dns_fetch_error() -> None:
    with pytest.raises(FetchError) as caught:
        check_url_allowed("http://does-not-exist.invalid/")
    assert caught.value.kind == "dns" and not isinstance(caught.value, RefusedAddressError)


# -- allowed networks, and what is never fetched -----------------------------------------------------

NEVER = [
    "169.254.169.254",
    "169.254.170.2",
    "169.254.0.1",
    "fe80::1",
    "::ffff:169.254.169.254",
    "100.100.100.200",
    "fd00:ec2::254",
    "0.0.0.0",
    "::",
]


@pytest.mark.parametrize("address", NEVER)
def test_link_local_metadata_and_unspecified_are_never_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), ALL_NETWORKS) is not None
    assert address_refusal(ipaddress.ip_address(address), LOOPBACK_NETWORKS) is not None


@pytest.mark.parametrize(
    "address, allowed",
    [
        ("127.0.0.1", "127.0.0.0/8"),
        ("::1", "::1"),
        ("::ffff:127.0.0.1", "127.0.0.0/8"),
        ("10.1.2.3", "10.0.0.0/8"),
        ("192.168.5.5", "192.168.5.0/24"),
        ("8.8.8.8", ""),
    ],
)
def test_an_allowed_network_opens_that_network_only(address: str, allowed: str) -> None:
    networks = parse_networks(allowed)
    assert address_refusal(ipaddress.ip_address(address), networks) is None
    assert (
        address_refusal(
            ipaddress.ip_address("10.200.0.1" if "10.200" not in allowed else "172.16.0.1"),
            parse_networks("127.0.0.0/8"),
        )
        == "private"
    )


@pytest.mark.parametrize(
    "raw, message",
    [
        ("127.0.0.0/33", "is not an address or network"),
        ("nonsense", "is not an address or network"),
        ("169.254.0.0/16", "link-local: it is never fetched"),
        ("169.254.169.254", "never fetched"),
    ],
)
def test_bad_or_useless_networks_are_refused(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_networks(raw)


def test_networks_are_parsed_deduplicated() -> None:
    assert parse_networks(" 127.0.0.1/8 , ::1, 127.0.0.0/8,") == LOOPBACK_NETWORKS


@pytest.mark.parametrize(
    "host, address",
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("8.8.8.8", "8.8.8.8"),
        ("example.org", None),
        ("1e100.net", None),
        ("cafe", None),
    ],
)
def test_literal_addresses_in_every_spelling(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


@pytest.mark.parametrize("url", [*PRIVATE_URLS, "http://app.localhost./"])
def test_new_sources_with_non_public_literal_hosts_are_refused(url: str) -> None:
    with pytest.raises(InputError) as caught:
        check_new_source(url)
    assert str(caught.value).startswith(f"cannot watch {url}") and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://100.100.100.200/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
def test_link_local_and_metadata_sources_are_refused_even_when_all_networks_are_allowed(url: str) -> None:
    with pytest.raises(InputError, match="never fetched"):
        check_new_source(url, allowed=ALL_NETWORKS)


@pytest.mark.parametrize("url", ["http://example.org/", "https://8.8.8.8/x", "not a url", "http://[::1/"])
def test_public_hosts_names_and_malformed_urls_pass_to_the_url_check(url: str) -> None:
    check_new_source(url)  # names are resolved at fetch time; malformed URLs are the URL check's to refuse


def test_allowed_loopback_sources_are_accepted() -> None:
    for url in ("http://127.0.0.1:8000/", "http://localhost/", "http://[::1]/"):
        check_new_source(url, allowed=LOOPBACK_NETWORKS)
    with pytest.raises(InputError, match="private"):
        check_new_source("http://10.0.0.1/", allowed=LOOPBACK_NETWORKS)


def _outcome(check: Callable[..., None], *args: object, **kwargs: object) -> str | None:
    """The refusal's message, or None when ``check(*args, **kwargs)`` lets the address pass."""
    try:
        check(*args, **kwargs)
    except RefusedAddressError as error:
        return str(error)
    return None


@pytest.mark.parametrize("allowed", [(), LOOPBACK_NETWORKS, ALL_NETWORKS])
def test_address_checker_answers_as_check_address_every_time(allowed: tuple[Network, ...]) -> None:
    """The crawl's guard keeps each address's verdict: asked again (by another host name too), it
    refuses exactly what ``check_address`` refuses, with the same message; past its limit it starts
    afresh and still agrees."""
    addresses = [ipaddress.ip_address(text) for text, _ in REFUSED] + [
        ipaddress.ip_address(text) for text in ("8.8.8.8", "93.184.216.34", "2606:4700::1111")
    ]
    for checker in (AddressChecker(allowed), AddressChecker(allowed, limit=3)):
        for host_of in (str, lambda address: "watched.example"):
            for address in addresses:
                host = host_of(address)
                expected = _outcome(check_address, host, address, allowed=allowed)
                assert _outcome(checker.check, host, address) == expected
        assert len(checker._reasons) <= checker.limit
    refused = sum(address_refusal(address, allowed) is not None for address in addresses)
    assert refused >= 2  # the never-fetched addresses at least: the comparison above is not vacuous


@pytest.mark.parametrize(
    "url",
    [
        "http://clinic.example/page",
        "HTTPS://Clinic.Example:8443/a;b?c#d",
        "http://127.0.0.1/",
        "http://[::1]:8080/x",
        "http://user:pw@host.example/",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "http:///no-host",
        "no scheme",
    ],
)
def test_scheme_and_host_from_parts_the_caller_has_are_those_of_the_url(url: str) -> None:
    def outcome(check: Callable[[], str]) -> str:
        try:
            return "host " + check()
        except RefusedAddressError as error:
            return f"refused: {error}"

    expected = outcome(lambda: check_scheme_and_host(url))
    assert outcome(lambda: check_scheme_and_host(url, urlparse(url))) == expected  # as the crawl passes them
    assert outcome(lambda: check_scheme_and_host(url, urlsplit(url))) == expected

"""Refuse to fetch URLs that point into private networks (server-side request forgery guard).

Anyone who can register a source could otherwise make the crawler fetch ``http://127.0.0.1:5432/``,
the cloud metadata service at ``169.254.169.254`` or a router admin page, and then read the answer
back through snapshots and diffs. So a URL is refused unless its scheme is http(s) and every address
its host is or resolves to is globally routable. ``WATCHER_ALLOW_PRIVATE_ADDRESSES=1`` lifts the
address rule (the demo and the tests fetch from a loopback server); the scheme rule always holds.

The pure part (``address_refusal``) classifies one address; the crawl's downloader middleware uses
it with the address Scrapy itself will connect to, so a DNS answer cannot change between the check
and the connection. ``check_url_allowed`` is the blocking, self-contained version for everyone else.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from watcher.errors import FetchError, RefusedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Carrier-grade NAT (RFC 6598): not "private" to the ipaddress module, yet never a public web server.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# NAT64 well-known prefix (RFC 6052): the last 32 bits are an IPv4 address a gateway will reach.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched (a few words), or None when it is globally routable."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded)
            return f"embeds {embedded}, {reason}" if reason else None
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        # Documentation, benchmarking, 6to4 relay and other special-purpose ranges.
        return "not globally routable"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, 6to4, Teredo client, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is a literal in canonical form, else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_scheme_and_host(url: str) -> str:
    """Return the URL's host, or raise ``RefusedAddressError`` for a non-http(s) URL or no host."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise RefusedAddressError(f"refused {url}: scheme {scheme or '(none)'!r} is not http or https")
    host = parts.hostname
    if not host:
        raise RefusedAddressError(f"refused {url}: no host")
    return host


def check_address(host: str, address: IPAddress, *, allow_private: bool) -> None:
    """Raise ``RefusedAddressError`` naming host and address when ``address`` is not public."""
    if allow_private:
        return
    reason = address_refusal(address)
    if reason is not None:
        shown = host if host == str(address) else f"{host} ({address})"
        raise RefusedAddressError(f"refused {shown}: {reason} address")


def resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to (blocking). Non-canonical literals such as ``127.1`` or
    ``2130706433`` are resolved too, exactly as the connecting code would interpret them."""
    literal = parse_ip(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}: {error}", kind="dns", transient=True) from None
    addresses: list[IPAddress] = []
    for info in infos:
        # Strip an IPv6 zone id ("fe80::1%eth0"): the address class is what matters.
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_url_allowed(url: str, *, allow_private: bool) -> None:
    """Raise ``RefusedAddressError`` unless ``url`` is http(s) and its host is public.

    Resolves the host (blocking); a host that does not resolve raises ``FetchError`` (kind "dns").
    """
    host = check_scheme_and_host(url)
    if allow_private:
        return
    for address in resolve(host):
        check_address(host, address, allow_private=False)

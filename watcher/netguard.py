"""Refuse to fetch URLs that point into private networks (server-side request forgery guard).

Anyone who can register a source could otherwise make the crawler fetch ``http://127.0.0.1:5432/``,
the cloud metadata service at ``169.254.169.254`` or a router admin page, and then read the answer
back through snapshots and diffs. So a URL is refused unless its scheme is http(s) and every address
its host is or resolves to is globally routable — or lies in a network named by
``WATCHER_ALLOWED_NETWORKS`` (the demo and the tests allow ``127.0.0.0/8,::1/128`` for their own
loopback server; ``WATCHER_ALLOW_PRIVATE_ADDRESSES=1``, the legacy switch, allows every network).
Link-local addresses, the cloud metadata services and the unspecified address are never fetched,
whatever is allowed (``never_fetched``). The scheme rule always holds.

The same rules apply twice: when a source is added (``check_new_source``: literal addresses, however
they are spelt — ``127.1``, ``2130706433``, ``0x7f000001``, ``[::ffff:127.0.0.1]`` — and ``localhost``
names, so that a bad source is refused at once rather than recorded as a failed check for ever), and
on every request of the crawl. The pure part (``address_refusal``) classifies one address; the crawl's
downloader middleware uses it with the address Scrapy itself will connect to, so a DNS answer cannot
change between the check and the connection. ``check_url_allowed`` is the blocking, self-contained
version for everyone else.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from urllib.parse import ParseResult, SplitResult, urlsplit

from watcher.errors import FetchError, InputError, RefusedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
# What the demo and the tests open: their own server on loopback, nothing else.
LOOPBACK_NETWORKS: tuple[Network, ...] = (ipaddress.IPv4Network("127.0.0.0/8"), ipaddress.IPv6Network("::1/128"))
# The legacy WATCHER_ALLOW_PRIVATE_ADDRESSES=1: every network (the never-fetched addresses excepted).
ALL_NETWORKS: tuple[Network, ...] = (ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))

# Never fetched, whatever is allowed. Link-local covers 169.254.169.254 (AWS, GCP, Azure, OpenStack,
# DigitalOcean...) and 169.254.170.2 (ECS task credentials); the others are metadata services that
# live outside link-local ranges: Alibaba Cloud's, and AWS's IPv6 endpoint (inside fc00::/7).
_LINK_LOCAL: tuple[Network, ...] = (ipaddress.IPv4Network("169.254.0.0/16"), ipaddress.IPv6Network("fe80::/10"))
_METADATA: tuple[Network, ...] = (
    ipaddress.IPv4Network("100.100.100.200/32"),
    ipaddress.IPv6Network("fd00:ec2::254/128"),
)
# A host made only of digits, dots and hex "0x" parts is an IPv4 literal to the C library
# (inet_aton: 127.1, 2130706433, 0x7f000001, 0177.0.0.1), whatever Python's parser says.
_LOOSE_IPV4 = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)

# Carrier-grade NAT (RFC 6598): not "private" to the ipaddress module, yet never a public web server.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# NAT64 well-known prefix (RFC 6052): the last 32 bits are an IPv4 address a gateway will reach.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def never_fetched(address: IPAddress) -> str | None:
    """Why ``address`` is never fetched, even in an allowed network; None for the others."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = never_fetched(embedded)
            return f"embeds {embedded}, {reason}" if reason else None
    if any(address in network for network in _METADATA):
        return "cloud metadata service"
    if address.is_link_local or any(address in network for network in _LINK_LOCAL):
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    return None


def address_refusal(address: IPAddress, allowed: Sequence[Network] = ()) -> str | None:
    """Why ``address`` must not be fetched (a few words), or None when it is globally routable or
    in one of the ``allowed`` networks (and not one of the ``never_fetched`` addresses)."""
    never = never_fetched(address)
    if never is not None:
        return never
    if _in_networks(address, allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded, allowed)
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


def _in_networks(address: IPAddress, networks: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


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


def check_scheme_and_host(url: str, parts: SplitResult | ParseResult | None = None) -> str:
    """Return the URL's host, or raise ``RefusedAddressError`` for a non-http(s) URL or no host.

    ``parts``, when the caller has the URL parsed already (the crawl: Scrapy's cached ``urlparse`` of each
    request), saves parsing it again: ``urlparse`` and ``urlsplit`` give the same scheme and host."""
    if parts is None:
        parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise RefusedAddressError(f"refused {url}: scheme {scheme or '(none)'!r} is not http or https")
    host = parts.hostname
    if not host:
        raise RefusedAddressError(f"refused {url}: no host")
    return host


def check_address(host: str, address: IPAddress, *, allowed: Sequence[Network] = ()) -> None:
    """Raise ``RefusedAddressError`` naming host and address when ``address`` is neither public
    nor in an ``allowed`` network."""
    reason = address_refusal(address, allowed)
    if reason is not None:
        raise _refused(host, address, reason)


def _refused(host: str, address: IPAddress, reason: str) -> RefusedAddressError:
    shown = host if host == str(address) else f"{host} ({address})"
    return RefusedAddressError(f"refused {shown}: {reason} address")


class AddressChecker:
    """``check_address`` with fixed ``allowed`` networks, each address classified once: the crawl asks
    at every request, mostly about the few addresses of the sites it watches (a public address took
    about 60 Python calls to classify). Holds at most ``limit`` verdicts, then starts afresh."""

    def __init__(self, allowed: Sequence[Network] = (), *, limit: int = 4096) -> None:
        self.allowed = tuple(allowed)
        self.limit = limit
        self._reasons: dict[IPAddress, str | None] = {}

    def check(self, host: str, address: IPAddress) -> None:
        try:
            reason = self._reasons[address]
        except KeyError:
            if len(self._reasons) >= self.limit:
                self._reasons.clear()
            reason = self._reasons[address] = address_refusal(address, self.allowed)
        if reason is not None:
            raise _refused(host, address, reason)


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


def check_url_allowed(url: str, *, allowed: Sequence[Network] = ()) -> None:
    """Raise ``RefusedAddressError`` unless ``url`` is http(s) and its host is public (or allowed).

    Resolves the host (blocking); a host that does not resolve raises ``FetchError`` (kind "dns").
    """
    host = check_scheme_and_host(url)
    for address in resolve(host):
        check_address(host, address, allowed=allowed)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names without DNS: a canonical literal, or an IPv4 literal in any of the
    spellings the C library accepts (``127.1``, ``2130706433``, ``0x7f000001``); else None."""
    canonical = parse_ip(host.split("%", 1)[0])
    if canonical is not None or not _LOOSE_IPV4.match(host):
        return canonical
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_new_source(url: str, *, allowed: Sequence[Network] = ()) -> None:
    """Refuse, when it is added, a source whose host is a non-public literal address or a
    ``localhost`` name (unless allowed): ``InputError`` in one line. Host names are resolved only
    when fetched (their addresses may change); a URL that is malformed is left to the URL check."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return
    if not host:
        return
    host = host.rstrip(".").lower()
    address = literal_address(host)
    if address is None and (host == "localhost" or host.endswith(".localhost")):
        address = ipaddress.IPv4Address("127.0.0.1")  # RFC 6761: always loopback
    if address is None:
        return
    reason = address_refusal(address, allowed)
    if reason is None:
        return
    shown = host if host == str(address) else f"{host} ({address})"
    if never_fetched(address):
        raise InputError(f"cannot watch {url.strip()}: {shown}: {reason} address, never fetched")
    raise InputError(
        f"cannot watch {url.strip()}: {shown}: {reason} address (only public addresses are "
        "watched, unless WATCHER_ALLOWED_NETWORKS names the network)"
    )


def parse_networks(raw: str) -> tuple[Network, ...]:
    """``127.0.0.0/8,::1/128`` → networks; ``ValueError`` with a short reason for a bad one."""
    networks: list[Network] = []
    for item in raw.split(","):
        text = item.strip()
        if not text:
            continue
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not an address or network such as 127.0.0.0/8") from None
        never = never_fetched(network.network_address)
        if never is not None and never_fetched(network.broadcast_address) == never:
            raise ValueError(f"{text} is {never}: it is never fetched, whatever is allowed")
        if network not in networks:
            networks.append(network)
    return tuple(networks)

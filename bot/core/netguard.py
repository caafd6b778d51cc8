"""SSRF guard: user-supplied feed URLs must only ever reach public addresses.

Two checks, both needed:

* ``check_url_syntax`` runs on every URL before it is requested (the first one and every
  redirect hop). It rejects non-http(s) schemes, embedded credentials, blocked hostnames
  (``localhost``, ``metadata.google.internal``) and IP literals in any notation, because
  aiohttp connects to an IP literal without consulting the resolver at all.
* ``GuardedResolver`` wraps the real resolver inside the connector, so the address that is
  checked is exactly the address that is connected to. Checking a name first and letting
  the connector resolve it again later is what DNS rebinding exploits; here there is no
  "later".

``AddressPolicy`` is the seam: operators can allow private addresses altogether (a bot on a
LAN polling intranet feeds, or tests against 127.0.0.1) or allow a few networks or hosts
only. Feeds added from chat get their own, stricter policy (:func:`chat_policy`): the
operator's ``allow_private_addresses`` never extends to a URL a chat user typed; only the
explicit ``[fetch] chat_private_allowlist`` does.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
from collections.abc import Iterable

import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.core.errors import BlockedAddressError

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Instance metadata endpoints hand out cloud credentials; some (Azure's wireserver) sit on
# addresses that look public, so they are listed rather than left to the range checks.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wireserver
    )
)
METADATA_HOSTNAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data"}
)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*"
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any.

    ``::ffff:127.0.0.1`` reaches 127.0.0.1 on a dual-stack socket, so it must be judged
    as the IPv4 address it stands for.
    """
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def _show(ip: IPAddress) -> str:
    """``::ffff:7f00:1`` means nothing to a reader; name the IPv4 address it carries."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return f"{ip} ({embedded})"
    return str(ip)


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address ("a loopback address"), or None when it is public."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            # fe80::1%eth0: the zone does not change what kind of address it is.
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return blocked_reason(embedded)
        if ip.is_site_local:
            return "a site-local address"
        if ip in ipaddress.IPv6Network("fc00::/7"):
            return "a unique local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def is_blocked_ip(ip: str) -> bool:
    """True when ``ip`` (any textual form ``ipaddress`` accepts) is not a public address."""
    return blocked_reason(ipaddress.ip_address(ip)) is not None


class AddressPolicy:
    """Which addresses a fetch may connect to.

    ``allow_private`` lifts the guard entirely (operator setting). ``allowed_networks``
    lets named networks through while the rest stays guarded: an intranet feed server, or
    a test that treats 127.0.0.1 as "public" while 127.0.0.3 stays private.
    ``allowed_hosts`` lets the named hosts (and their subdomains) reach the private
    addresses they resolve to; cloud metadata addresses stay blocked for them.
    """

    __slots__ = ("allow_private", "allowed_hosts", "allowed_networks")

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[str] = (),
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.allow_private = allow_private
        self.allowed_networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )
        self.allowed_hosts: frozenset[str] = frozenset(
            h.strip().rstrip(".").lower() for h in allowed_hosts
        )

    def why_blocked(self, ip: IPAddress, host: str | None = None) -> str | None:
        """Why connecting to ``ip`` (for the name ``host``) is refused, or None if allowed."""
        if self.allow_private:
            return None
        if any(ip.version == net.version and ip in net for net in self.allowed_networks):
            return None
        reason = blocked_reason(ip)
        if reason is not None and host is not None and self.host_allowed(host):
            return reason if ip in METADATA_ADDRESSES else None
        return reason

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` is one of ``allowed_hosts`` or a subdomain of one."""
        if not self.allowed_hosts:
            return False
        name = host.rstrip(".").lower()
        return any(name == h or name.endswith(f".{h}") for h in self.allowed_hosts)

    def __repr__(self) -> str:
        nets = [str(n) for n in self.allowed_networks]
        hosts = sorted(self.allowed_hosts)
        return (
            f"AddressPolicy(allow_private={self.allow_private}, allowed_networks={nets}, "
            f"allowed_hosts={hosts})"
        )


def split_allowlist(entries: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(networks, hosts)`` from allow-list entries: an IP or CIDR is a network, anything
    else a hostname. Raises ValueError naming every entry that is neither (an operator
    fixing a list one entry per restart would be told of the next only after the next)."""
    networks: list[str] = []
    hosts: list[str] = []
    bad: list[str] = []
    for raw in entries:
        entry = raw.strip()
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
            continue
        except ValueError:
            pass
        name = entry.rstrip(".").lower()
        if not _HOSTNAME.fullmatch(name):
            bad.append(repr(raw))
            continue
        hosts.append(name)
    if bad:
        which = f"{bad[0]} is" if len(bad) == 1 else f"{', '.join(bad)} are"
        raise ValueError(f"{which} neither an IP address, a CIDR network nor a hostname")
    return networks, hosts


def chat_policy(allowlist: Iterable[str], *, public_networks: Iterable[str] = ()) -> AddressPolicy:
    """The policy for feed URLs typed in chat: private addresses stay blocked whatever the
    operator allows for configured feeds, except the explicit allow-list's networks and
    hosts. ``public_networks`` are networks that count as public everywhere (a test seam)."""
    networks, hosts = split_allowlist(allowlist)
    return AddressPolicy(allowed_networks=[*public_networks, *networks], allowed_hosts=hosts)


STRICT = AddressPolicy()


@functools.lru_cache(maxsize=4096)  # every poll of every feed asks again for its host
def _parse_ip_literal(host: str) -> tuple[IPAddress, bool] | None:
    """``(address, odd_notation)`` when ``host`` is an IP in any notation, else None.

    ``odd_notation`` flags the legacy inet_aton forms (2130706433, 0177.0.0.1, 0x7f.1,
    127.1) that getaddrinfo still maps onto addresses and that filters on the raw text miss.
    """
    try:
        return ipaddress.ip_address(host), False
    except ValueError:
        pass
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return None
    return ipaddress.IPv4Address(packed), True


def check_url_syntax(url: str, *, policy: AddressPolicy = STRICT) -> None:
    """Refuse a URL before any connection: scheme, credentials, blocked names and IP literals.

    Raises ``BlockedAddressError`` with a reason in plain words. Hostnames that need DNS are
    checked later, by ``GuardedResolver``, on the addresses actually connected to.
    """
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError) as exc:
        raise BlockedAddressError(f"blocked: not a valid URL ({exc})") from exc
    scheme = parsed.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        raise BlockedAddressError(f"blocked: only http and https URLs are allowed, not {shown}")
    if parsed.user is not None or parsed.password is not None:
        raise BlockedAddressError("blocked: URLs with credentials are not allowed")
    try:
        host = (parsed.host or "").rstrip(".").lower()
    except (UnicodeError, ValueError) as exc:  # "xn--": an IDNA label that decodes to nothing
        raise BlockedAddressError("blocked: not a valid URL (its host name)") from exc
    if not host:
        raise BlockedAddressError("blocked: URL has no host")

    literal = _parse_ip_literal(host)
    if literal is not None:
        ip, odd = literal
        if odd:
            # aiohttp refuses these anyway; saying what they stand for helps the user.
            reason = policy.why_blocked(ip)
            what = f", {reason}" if reason else ""
            raise BlockedAddressError(f"blocked: {host} is an odd notation for {ip}{what}")
        reason = policy.why_blocked(ip)
        if reason is not None:
            raise BlockedAddressError(f"blocked: {_show(ip)} is {reason}")
        return

    if policy.allow_private or policy.host_allowed(host):
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedAddressError(f"blocked: {host} is a loopback address")
    if host in METADATA_HOSTNAMES:
        raise BlockedAddressError(f"blocked: {host} is a cloud metadata address")


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and drops every address ``policy`` refuses.

    When no address is left the lookup fails with ``BlockedAddressError``, which aiohttp
    passes through unchanged, so the caller sees why. Installed in the connector, it runs
    on every new connection, including each redirect hop and each DNS-cache refill.
    """

    def __init__(
        self, inner: AbstractResolver, policy: AddressPolicy, *, owns_inner: bool = True
    ) -> None:
        self.inner = inner
        self.policy = policy
        self._owns_inner = owns_inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        if self.policy.allow_private:
            return results
        kept: list[ResolveResult] = []
        refused: list[tuple[IPAddress, str]] = []
        for result in results:
            try:
                ip = ipaddress.ip_address(result["host"])
            except ValueError:
                refused.append((ipaddress.IPv4Address(0), "not an IP address"))
                continue
            reason = self.policy.why_blocked(ip, host)
            if reason is None:
                kept.append(result)
            else:
                refused.append((ip, reason))
        if refused:
            log.warning(
                "refused non-public addresses for %s",
                host,
                extra={"host": host, "refused": [str(ip) for ip, _ in refused]},
            )
        if not kept:
            if not refused:
                raise OSError(f"no addresses for {host}")
            # The address itself stays in the log above: told in chat, a member could map
            # the bot's network name by name.
            _, reason = refused[0]
            raise BlockedAddressError(f"blocked: {host} resolves to {reason}")
        return kept

    async def close(self) -> None:
        if self._owns_inner:
            await self.inner.close()

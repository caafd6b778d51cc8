from __future__ import annotations

import ipaddress

import pytest
from aiohttp import web

from bot.core.errors import BlockedAddressError, FetchError
from bot.core.fetch import Fetcher, FetchLimits, FetchRequest
from bot.core.netguard import (
    AddressPolicy,
    GuardedResolver,
    blocked_reason,
    check_url_syntax,
    is_blocked_ip,
)
from tests.feedserver import FeedServer, StaticResolver, rss

UA = "Wirewatch-tests/0.1"
FEED = rss([{"title": "Hello", "link": "https://example.test/1", "guid": "1"}])
# Tests treat 127.0.0.1 as the "public internet" through the product's own allow-list seam;
# every other loopback or private address stays blocked.
PUBLIC_FOR_TESTS = ["127.0.0.1/32"]


# --- address classification --------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("fd12:3456::1", "a unique local address"),
        ("fec0::1", "a site-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("168.63.129.16", "a cloud metadata address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("2002:a00:1::", "a private address"),  # 6to4 wrapping 10.0.0.1
        ("64:ff9b::a00:1", "a private address"),  # NAT64 wrapping 10.0.0.1
        ("192.0.2.1", "a private address"),  # documentation range
    ],
)
def test_non_public_addresses_are_blocked_with_their_kind(ip: str, reason: str) -> None:
    """Every non-public range is refused, and the reason names what kind of address it is."""
    assert is_blocked_ip(ip)
    assert blocked_reason(ipaddress.ip_address(ip)) == reason


@pytest.mark.parametrize(
    "ip", ["8.8.8.8", "151.101.1.69", "2606:4700::1111", "64:ff9b::808:808", "::ffff:1.1.1.1"]
)
def test_public_addresses_are_allowed(ip: str) -> None:
    """Public IPv4/IPv6 (also when wrapped in NAT64 or IPv4-mapped form) pass."""
    assert not is_blocked_ip(ip)


def test_policy_allow_list_lets_only_named_networks_through() -> None:
    """allowed_networks opens exactly those networks; allow_private opens everything."""
    policy = AddressPolicy(allowed_networks=["127.0.0.1/32", "10.9.0.0/16"])
    assert policy.why_blocked(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.why_blocked(ipaddress.ip_address("10.9.8.7")) is None
    assert policy.why_blocked(ipaddress.ip_address("127.0.0.2")) == "a loopback address"
    assert AddressPolicy(allow_private=True).why_blocked(ipaddress.ip_address("10.0.0.1")) is None


# --- URL syntax -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "blocked: only http and https URLs are allowed, not file:"),
        ("gopher://example.com/", "blocked: only http and https URLs are allowed, not gopher:"),
        ("//example.com/feed", "blocked: only http and https URLs are allowed, not a URL"),
        ("http://user:secret@example.com/", "blocked: URLs with credentials are not allowed"),
        ("http://127.0.0.1/", "blocked: 127.0.0.1 is a loopback address"),
        ("http://[::1]:8080/", "blocked: ::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "blocked: ::ffff:7f00:1 (127.0.0.1) is a loopback"),
        ("http://2130706433/", "blocked: 2130706433 is an odd notation for 127.0.0.1"),
        ("http://0177.0.0.1/", "blocked: 0177.0.0.1 is an odd notation for 127.0.0.1"),
        ("http://0x7f.0.0.1/", "blocked: 0x7f.0.0.1 is an odd notation for 127.0.0.1"),
        ("http://127.1/", "blocked: 127.1 is an odd notation for 127.0.0.1"),
        ("http://0xa9fea9fe/", "blocked: 0xa9fea9fe is an odd notation for 169.254.169.254"),
        ("http://localhost/", "blocked: localhost is a loopback address"),
        ("http://LocalHost./feed", "blocked: localhost is a loopback address"),
        ("http://app.localhost/", "blocked: app.localhost is a loopback address"),
        ("http://metadata.google.internal/", "blocked: metadata.google.internal is a cloud"),
        ("http://169.254.169.254/latest/", "blocked: 169.254.169.254 is a cloud metadata"),
    ],
)
def test_bad_urls_are_refused_before_any_connection(url: str, message: str) -> None:
    """Schemes, credentials, IP literals in any notation and special names fail up front."""
    with pytest.raises(BlockedAddressError) as caught:
        check_url_syntax(url)
    assert caught.value.reason.startswith(message), caught.value.reason


def test_odd_notation_of_a_public_address_is_still_refused() -> None:
    """Legacy numeric forms are refused even when they stand for a public address."""
    with pytest.raises(BlockedAddressError, match=r"odd notation for 8\.8\.8\.8"):
        check_url_syntax("http://134744072/")


@pytest.mark.parametrize(
    "url", ["https://example.com/feed.xml", "http://8.8.8.8/rss", "https://[2606:4700::1111]/"]
)
def test_ordinary_public_urls_pass_syntax_check(url: str) -> None:
    """Hostnames (checked later, after DNS) and public literals pass."""
    check_url_syntax(url)


def test_allow_private_lifts_address_checks_but_not_scheme_checks() -> None:
    """The operator switch is about addresses; file: URLs stay refused."""
    policy = AddressPolicy(allow_private=True)
    check_url_syntax("http://127.0.0.1:8080/feed", policy=policy)
    check_url_syntax("http://localhost/feed", policy=policy)
    with pytest.raises(BlockedAddressError):
        check_url_syntax("file:///etc/passwd", policy=policy)


# --- the resolver wrapper -------------------------------------------------------------


async def test_guarded_resolver_drops_blocked_addresses_and_keeps_public_ones() -> None:
    """A name with one private and one public record is only ever connected to publicly."""
    inner = StaticResolver({"mixed.test": ["10.0.0.1", "8.8.8.8"]})
    resolver = GuardedResolver(inner, AddressPolicy())
    results = await resolver.resolve("mixed.test", 80)
    assert [r["host"] for r in results] == ["8.8.8.8"]


async def test_guarded_resolver_refuses_names_with_only_blocked_addresses() -> None:
    """All answers private: the lookup fails and says which address and why."""
    resolver = GuardedResolver(StaticResolver({"intra.test": "192.168.0.10"}), AddressPolicy())
    with pytest.raises(BlockedAddressError) as caught:
        await resolver.resolve("intra.test", 80)
    assert caught.value.reason == "blocked: intra.test resolves to a private address"


async def test_guarded_resolver_passes_everything_when_private_is_allowed() -> None:
    """allow_private=True returns the inner answers untouched."""
    resolver = GuardedResolver(
        StaticResolver({"intra.test": "10.0.0.1"}), AddressPolicy(allow_private=True)
    )
    assert [r["host"] for r in await resolver.resolve("intra.test", 80)] == ["10.0.0.1"]


# --- end to end through the Fetcher ------------------------------------------------------


async def test_local_server_is_refused_without_allow_private() -> None:
    """A feed URL pointing at 127.0.0.1 is refused and the server never sees a request."""
    async with FeedServer() as server, Fetcher(user_agent=UA) as fetcher:
        server.set_feed("/feed", FEED)
        with pytest.raises(BlockedAddressError) as caught:
            await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert caught.value.reason == "blocked: 127.0.0.1 is a loopback address"
        assert server.hits("/feed") == 0


async def test_local_server_is_reachable_with_allow_private() -> None:
    """The operator setting lets tests and LAN deployments reach 127.0.0.1."""
    async with FeedServer() as server, Fetcher(user_agent=UA, allow_private=True) as fetcher:
        server.set_feed("/feed", FEED)
        result = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert result.status == 200


async def test_hostname_resolving_to_loopback_is_refused_after_dns() -> None:
    """A harmless-looking name that resolves to loopback is caught by the resolver guard."""
    resolver = StaticResolver({"innocent.test": "127.0.0.1"})
    async with FeedServer() as server, Fetcher(user_agent=UA, resolver=resolver) as fetcher:
        server.set_feed("/feed", FEED)
        url = f"http://innocent.test:{server.port}/feed"
        with pytest.raises(BlockedAddressError) as caught:
            await fetcher.fetch(FetchRequest(url))
        assert caught.value.reason == ("blocked: innocent.test resolves to a loopback address")
        assert server.hits("/feed") == 0


async def test_hostname_resolving_to_cloud_metadata_is_refused() -> None:
    """A name pointing at 169.254.169.254 never gets a connection attempt."""
    resolver = StaticResolver({"meta.test": "169.254.169.254"})
    async with Fetcher(user_agent=UA, resolver=resolver) as fetcher:
        with pytest.raises(BlockedAddressError, match="a cloud metadata address"):
            await fetcher.fetch(FetchRequest("http://meta.test/latest/meta-data/"))


async def test_ipv4_mapped_ipv6_answer_is_judged_as_ipv4() -> None:
    """A AAAA record of ::ffff:127.0.0.1 is loopback, even with 127.0.0.1 allow-listed as v4."""
    resolver = StaticResolver({"v6.test": "::ffff:10.0.0.1"})
    async with Fetcher(user_agent=UA, resolver=resolver) as fetcher:
        with pytest.raises(BlockedAddressError, match=r"v6\.test resolves to a private address"):
            await fetcher.fetch(FetchRequest("http://v6.test/feed"))


async def test_allowed_host_works_through_the_allow_list_seam() -> None:
    """Sanity check of the seam: public.test -> 127.0.0.1 (allow-listed) is fetched."""
    resolver = StaticResolver({"public.test": "127.0.0.1"})
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, resolver=resolver, allowed_networks=PUBLIC_FOR_TESTS) as fetcher,
    ):
        server.set_feed("/feed", FEED)
        result = await fetcher.fetch(FetchRequest(f"http://public.test:{server.port}/feed"))
        assert result.status == 200
        assert result.body == FEED.encode()


async def test_redirect_from_allowed_host_to_private_literal_is_refused() -> None:
    """A public feed redirecting to a loopback IP literal is stopped at that hop."""
    resolver = StaticResolver({"public.test": "127.0.0.1"})
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, resolver=resolver, allowed_networks=PUBLIC_FOR_TESTS) as fetcher,
    ):

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"http://127.0.0.3:{server.port}/secret")

        server.set_handler("/feed", redirect)
        with pytest.raises(BlockedAddressError) as caught:
            await fetcher.fetch(FetchRequest(f"http://public.test:{server.port}/feed"))
        assert caught.value.reason == "blocked: 127.0.0.3 is a loopback address"
        assert server.hits("/feed") == 1
        assert server.hits("/secret") == 0


async def test_redirect_from_allowed_host_to_private_name_is_refused() -> None:
    """A redirect to a hostname is checked after DNS, on that hop's own connection."""
    resolver = StaticResolver({"public.test": "127.0.0.1", "intranet.test": "10.20.30.40"})
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, resolver=resolver, allowed_networks=PUBLIC_FOR_TESTS) as fetcher,
    ):

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPMovedPermanently(f"http://intranet.test:{server.port}/admin")

        server.set_handler("/feed", redirect)
        with pytest.raises(BlockedAddressError) as caught:
            await fetcher.fetch(FetchRequest(f"http://public.test:{server.port}/feed"))
        assert caught.value.reason == ("blocked: intranet.test resolves to a private address")


async def test_redirect_to_file_scheme_is_refused() -> None:
    """Location: file:///etc/passwd is refused like any non-http URL."""
    resolver = StaticResolver({"public.test": "127.0.0.1"})
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, resolver=resolver, allowed_networks=PUBLIC_FOR_TESTS) as fetcher,
    ):

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound("file:///etc/passwd")

        server.set_handler("/feed", redirect)
        with pytest.raises(BlockedAddressError, match="only http and https"):
            await fetcher.fetch(FetchRequest(f"http://public.test:{server.port}/feed"))


async def test_dns_rebinding_is_defeated() -> None:
    """A name answering public first and private next is refused on the private answer.

    The guard sits inside the connector's resolver, so each connection uses exactly the
    answer that was checked: there is no second lookup between check and connect.
    """
    resolver = StaticResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.99"]]})
    limits = FetchLimits(dns_cache_seconds=0)

    async def one_shot(request: web.Request) -> web.StreamResponse:
        response = web.Response(body=FEED.encode(), content_type="application/rss+xml")
        response.force_close()  # no keep-alive, so the next fetch needs a new connection
        return response

    async with (
        FeedServer() as server,
        Fetcher(
            user_agent=UA, resolver=resolver, allowed_networks=PUBLIC_FOR_TESTS, limits=limits
        ) as fetcher,
    ):
        server.set_handler("/feed", one_shot)
        url = f"http://rebind.test:{server.port}/feed"
        first = await fetcher.fetch(FetchRequest(url))
        assert first.status == 200
        assert resolver.lookups == ["rebind.test"]  # one lookup per connection, checked
        with pytest.raises(BlockedAddressError, match=r"resolves to a private address"):
            await fetcher.fetch(FetchRequest(url))
        assert server.hits("/feed") == 1


async def test_blocked_error_is_a_fetch_error() -> None:
    """Callers that only handle FetchError still record a blocked feed as failing."""
    async with Fetcher(user_agent=UA) as fetcher:
        with pytest.raises(FetchError):
            await fetcher.fetch(FetchRequest("http://10.0.0.1/feed"))


def test_an_idna_host_that_decodes_to_nothing_is_refused_with_a_reason() -> None:
    """`http://xn--/feed` raised a UnicodeError out of the guard: an OPML import holding
    one such outline failed whole, with "something went wrong"."""
    with pytest.raises(BlockedAddressError, match="not a valid URL"):
        check_url_syntax("http://xn--/feed")

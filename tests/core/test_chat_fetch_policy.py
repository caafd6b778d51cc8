"""Feeds added from chat never inherit the operator's allow_private_addresses: a request
marked ``allow_private=False`` reaches private addresses only through the explicit
``[fetch] chat_private_allowlist``, on its own connection pool and DNS cache."""

from __future__ import annotations

import pytest
from aiohttp import web
from pydantic import ValidationError

from bot.core.errors import BlockedAddressError
from bot.core.fetch import Fetcher, FetchRequest
from bot.settings import FetchSettings
from tests.feedserver import FeedServer, StaticResolver, rss

UA = "Wirewatch-tests/0.1"
FEED = rss([{"title": "Hello", "link": "https://example.test/1", "guid": "1"}])


def chat(url: str) -> FetchRequest:
    return FetchRequest(url, allow_private=False)


async def test_operator_switch_does_not_open_private_addresses_to_chat_urls() -> None:
    """allow_private_addresses=true: config feeds reach 127.0.0.1, a chat URL does not, nor
    a name resolving to the cloud metadata address."""
    resolver = StaticResolver({"meta.test": "169.254.169.254"})
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, allow_private=True, resolver=resolver) as fetcher,
    ):
        server.set_feed("/feed", FEED)
        url = server.url("/feed")
        assert (await fetcher.fetch(FetchRequest(url))).status == 200
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1 is a loopback address"):
            await fetcher.fetch(chat(url))
        with pytest.raises(BlockedAddressError, match="a cloud metadata address"):
            await fetcher.fetch(chat("http://169.254.169.254/latest/meta-data/"))
        with pytest.raises(BlockedAddressError, match="a cloud metadata address"):
            await fetcher.fetch(chat("http://meta.test/latest/meta-data/"))
        with pytest.raises(BlockedAddressError, match="localhost is a loopback address"):
            await fetcher.fetch(chat(f"http://localhost:{server.port}/feed"))
        assert server.hits("/feed") == 1


async def test_a_pooled_connection_of_an_operator_feed_is_not_reused_for_chat() -> None:
    """The same host fetched for the operator first (connection kept alive, address cached)
    is still refused for a chat request: each policy has its own pool and DNS cache."""
    resolver = StaticResolver({"intranet.test": "127.0.0.1"})
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, allow_private=True, resolver=resolver) as fetcher,
    ):
        server.set_feed("/feed", FEED)
        url = f"http://intranet.test:{server.port}/feed"
        assert (await fetcher.fetch(FetchRequest(url))).status == 200
        with pytest.raises(BlockedAddressError, match=r"resolves to a loopback address"):
            await fetcher.fetch(chat(url))
        assert server.hits("/feed") == 1


async def test_chat_allowlist_networks_open_exactly_those_addresses() -> None:
    """127.0.0.1/32 on the chat allow-list: chat may fetch there, not from 127.0.0.2."""
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, chat_allowlist=["127.0.0.1/32"]) as fetcher,
    ):
        server.set_feed("/feed", FEED)
        assert (await fetcher.fetch(chat(server.url("/feed")))).status == 200
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2 is a loopback address"):
            await fetcher.fetch(chat(f"http://127.0.0.2:{server.port}/feed"))
        # The operator's own policy is untouched by the chat allow-list.
        with pytest.raises(BlockedAddressError, match="loopback"):
            await fetcher.fetch(FetchRequest(server.url("/feed")))


async def test_chat_allowlist_hosts_open_their_names_and_subdomains_only() -> None:
    """A hostname entry lets it and its subdomains resolve privately; other names stay
    blocked, and the metadata address stays blocked even for an allowed name."""
    resolver = StaticResolver(
        {
            "intranet.test": "127.0.0.1",
            "feeds.intranet.test": "127.0.0.1",
            "other.test": "127.0.0.1",
            "meta.intranet.test": "169.254.169.254",
        }
    )
    async with (
        FeedServer() as server,
        Fetcher(user_agent=UA, resolver=resolver, chat_allowlist=["intranet.test"]) as fetcher,
    ):
        server.set_feed("/feed", FEED)
        for host in ("intranet.test", "feeds.intranet.test"):
            assert (await fetcher.fetch(chat(f"http://{host}:{server.port}/feed"))).status == 200
        with pytest.raises(BlockedAddressError, match=r"other\.test resolves to a loopback"):
            await fetcher.fetch(chat(f"http://other.test:{server.port}/feed"))
        with pytest.raises(BlockedAddressError, match="a cloud metadata address"):
            await fetcher.fetch(chat(f"http://meta.intranet.test:{server.port}/feed"))


async def test_a_chat_feed_redirecting_to_a_private_address_is_stopped_at_that_hop() -> None:
    """An allowed chat host redirecting to another loopback address is refused there,
    although the operator allows private addresses for their own feeds."""
    resolver = StaticResolver({"public.test": "127.0.0.1"})
    async with (
        FeedServer() as server,
        Fetcher(
            user_agent=UA, allow_private=True, resolver=resolver, chat_allowlist=["public.test"]
        ) as fetcher,
    ):

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"http://127.0.0.3:{server.port}/secret")

        server.set_handler("/feed", redirect)
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.3 is a loopback address"):
            await fetcher.fetch(chat(f"http://public.test:{server.port}/feed"))
        assert server.hits("/secret") == 0


def test_chat_allowlist_setting_takes_networks_and_hosts_and_refuses_junk() -> None:
    """IPs, CIDRs and hostnames are accepted; anything else names the bad entry."""
    settings = FetchSettings(chat_private_allowlist=["10.1.0.0/16", "192.168.1.7", "feeds.lan"])
    assert settings.chat_private_allowlist == ["10.1.0.0/16", "192.168.1.7", "feeds.lan"]
    assert FetchSettings().chat_private_allowlist == []
    with pytest.raises(ValidationError, match="'http://x/' is neither"):
        FetchSettings(chat_private_allowlist=["http://x/"])

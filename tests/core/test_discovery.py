"""Feed autodiscovery on our own pages (tests/data/pages): which alternates are feeds,
how relative hrefs resolve, which feed is preferred."""

from __future__ import annotations

from pathlib import Path

from bot.core.discovery import FeedLink, feed_links, looks_like_html

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def test_rss_then_atom_then_json_each_in_page_order() -> None:
    links = feed_links(page("news-site.html"), "https://www.ledger.example/home/")
    assert links == [
        FeedLink("https://cdn.ledger.example/rss.xml", "application/rss+xml", "Daily Ledger & Co"),
        FeedLink("https://www.ledger.example/markets/rss", "application/rss+xml", "Markets"),
        FeedLink(
            "https://www.ledger.example/home/feeds/atom.xml",
            "application/atom+xml",
            "Daily Ledger (Atom)",
        ),
        FeedLink(
            "https://www.ledger.example/feed.json", "application/feed+json", "Daily Ledger (JSON)"
        ),
    ]


def test_base_href_decides_where_relative_links_point() -> None:
    links = feed_links(page("base-href.html"), "https://www.ledger.example/")
    assert [link.url for link in links] == ["https://static.ledger.example/sub/atom.xml"]


def test_a_page_without_alternates_names_no_feed() -> None:
    assert feed_links(page("no-feed.html"), "https://shop.example/") == []


def test_html_is_told_from_feeds_by_type_or_by_its_start() -> None:
    assert looks_like_html(page("news-site.html"))
    assert looks_like_html(b"<p>hi</p>", "text/html; charset=utf-8")
    assert looks_like_html(b"  <!-- cms -->\n<html><head></head></html>")
    assert not looks_like_html(b'<?xml version="1.0"?><rss version="2.0"/>', "text/xml")
    assert not looks_like_html(b'{"version": "https://jsonfeed.org/version/1.1"}')


def test_only_the_start_of_a_huge_page_is_read() -> None:
    padding = "<p>" + "x" * (600 * 1024) + "</p>"
    late = '<link rel="alternate" type="application/rss+xml" href="/late.rss">'
    early = '<link rel="alternate" type="application/rss+xml" href="/early.rss">'
    html = f"<html><head>{early}</head><body>{padding}{late}</body></html>"
    assert [link.url for link in feed_links(html, "https://a.example/")] == [
        "https://a.example/early.rss"
    ]

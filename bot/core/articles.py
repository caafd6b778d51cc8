"""Feed entries -> clean articles: plain text, canonical URLs, stable identity keys.

Pure functions only: no I/O, no clock (the caller passes ``seen_at``).

Identity follows MonitoRSS's resolver idea: an item has several keys, strongest first, and
it is "seen" when ANY key was seen before. So a publisher that re-dates an item keeps its
``g:`` (guid) and ``u:`` (URL) keys, one that rotates guids keeps ``u:``, and tracking
parameters never change ``u:`` because it hashes the canonical URL.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import SplitResult, parse_qsl, unquote_plus, urljoin, urlsplit, urlunsplit

from bot.core import googlenews
from bot.core.htmltext import html_to_text, title_to_text
from bot.core.models import Article, FeedEntry

__all__ = [
    "CONTENT_MAX_CHARS",
    "SUMMARY_MAX_CHARS",
    "article_from_entry",
    "canonical_url",
    "clean_text",
    "entry_identity_keys",
    "identity_keys",
    "split_publisher_suffix",
]

SUMMARY_MAX_CHARS = 1000
CONTENT_MAX_CHARS = 20000
TITLE_FALLBACK_CHARS = 140
# A date this far past seen_at is a publisher's clock or template bug, not the future.
FUTURE_SLACK = timedelta(days=1)

# Query parameters that identify a click, a campaign or a mailing, never the page.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "wbraid", "gbraid", "mc_cid", "mc_eid",
        "igshid", "ref_src", "ref_url", "cmpid", "ncid", "ocid", "_hsenc", "_hsmi",
        "yclid", "msclkid", "spm", "xtor", "at_medium", "at_campaign", "at_custom1",
        "at_custom2", "at_custom3", "at_custom4", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "vero_conv", "wickedid", "__twitter_impression", "_ga", "_gl",
        "soc_src", "soc_trk", "sr_share", "cmp", "cmpgn", "s_cid", "wt.mc_id", "wt_mc_id",
        "wtmc", "wt_mc", "icid", "campaign_id", "rss_id", "tracking_id", "ito", "smid",
        "guccounter", "guce_referrer", "guce_referrer_sig", "trk", "trkcampaign", "mbid",
        "cid_source", "ns_campaign", "ns_mchannel", "ns_source", "ns_linkname", "ns_fee",
    }
)  # fmt: skip
# Redirect wrappers whose target sits in a query parameter: (host suffix, path) -> params.
_REDIRECTORS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("news.google.com", "/news/url", ("url",)),
    ("google.com", "/url", ("url", "q")),
    ("l.facebook.com", "/l.php", ("u",)),
    ("lm.facebook.com", "/l.php", ("u",)),
    ("t.umblr.com", "/redirect", ("z",)),
    # Bing News search feeds link through a click counter whose parameters change with
    # every fetch: unwrapped, one article is one URL however often it is fetched.
    ("bing.com", "/news/apiclick.aspx", ("url",)),
)
_REDIRECT_PATHS = frozenset(path for _, path, _ in _REDIRECTORS)
_REDIRECT_MARKS = tuple(path + "?" for path in _REDIRECT_PATHS)
# Ad servers that feed-relay services wrote whole items for ("Featured Advertiser"): an
# item linking only there is an advert, never an article. A real item relayed through
# them carries its origLink, which replaced the link before this is read.
_AD_SERVER_MARKS = ("//ads.pheedo.com/", "//feedads.g.doubleclick.net/", "//ad.doubleclick.net/")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A lowercase http(s) URL with a plain host (no port, user or trailing dot) and a path of
# RFC 3986 characters, without query or fragment: canonical as it is.
_PLAIN_URL = re.compile(
    r"https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?/[!$%&'()*+,\-./0-9:;=@A-Z_a-z~]*"
)
_SUFFIX_SEPARATORS = (" - ", " – ", " — ", " | ")


def clean_text(html_or_text: str, *, max_chars: int | None = None) -> str:
    """Plain text from HTML or text: tags stripped, entities decoded (twice if they were
    escaped twice), whitespace (also NBSP) folded to single spaces, trimmed.

    With ``max_chars`` the text is cut at a word boundary and ends with '…', never
    exceeding ``max_chars``.
    """
    text = html_to_text(html_or_text)
    if max_chars is not None and len(text) > max_chars:
        text = _truncate(text, max_chars)
    return text


def _truncate(text: str, max_chars: int) -> str:
    if max_chars <= 1:
        return text[:max_chars]
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


def canonical_url(url: str, *, base: str | None = None, keep_fragment: bool = False) -> str:
    """The URL two feeds would agree on for the same page.

    Resolves ``url`` against ``base``; lowercases scheme and host; drops the default port,
    the fragment (unless ``keep_fragment``: some feeds address items by anchor) and
    tracking parameters (``utm_*``, ``fbclid``, ...); sorts the remaining parameters;
    unwraps redirectors that carry the target in a parameter (google.com/url,
    news.google.com/news/url, l.facebook.com, Bing News' click counter) and old-format
    news.google.com/rss/articles/
    links, whose token holds the URL. Current Google News tokens stay as they are:
    resolving them needs a request. Non-HTTP URLs come back trimmed only.
    """
    url = url.strip()
    if "&amp;" in url:
        url = url.replace("&amp;", "&")
    if _PLAIN_URL.fullmatch(url) and "/articles/" not in url:
        # Already canonical: what the parsing below would rebuild unchanged (most feed
        # links; a first poll canonicalises every item's).
        return url
    return _parsed_canonical_url(url, base, keep_fragment)


def _parsed_canonical_url(url: str, base: str | None, keep_fragment: bool) -> str:
    if base and not url.startswith(("http://", "https://")):
        try:
            url = urljoin(base, url)
        except ValueError:
            return url
    try:
        parts = urlsplit(url)
        for _ in range(3):  # a wrapper may wrap a wrapper; never loop on a hostile chain
            target = _unwrap_redirect(parts)
            if target is None:
                break
            url = target
            parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        return url
    netloc = _canonical_netloc(parts, scheme)
    if not netloc:
        return url
    path = parts.path or "/"
    query = ""
    if parts.query:
        # Parameters are kept exactly as written (no decode/re-encode round trip): cheaper,
        # and idempotent by construction; only their order and the tracking ones change.
        kept = [
            pair
            for pair in parts.query.split("&")
            if pair and not _is_tracking(pair.partition("=")[0])
        ]
        kept.sort()
        query = "&".join(kept)
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, path, query, fragment))


def _canonical_netloc(parts: SplitResult, scheme: str) -> str:
    netloc = parts.netloc
    if "@" not in netloc and ":" not in netloc and "[" not in netloc:
        return netloc.lower().rstrip(".")  # the common case, without re-parsing netloc
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return ""
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"[{host}]" if ":" in host else host
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return netloc


def _is_tracking(key: str) -> bool:
    if "%" in key or "+" in key:
        key = unquote_plus(key)
    key = key.lower()
    return key.startswith("utm_") or key in _TRACKING_PARAMS


def _unwrap_redirect(parts: SplitResult) -> str | None:
    path, query = parts.path, parts.query
    if "/articles/" in path:
        if not googlenews.is_google_news_host((parts.hostname or "").lower()):
            return None
        return googlenews.article_url(parts.geturl())
    if not query or path not in _REDIRECT_PATHS:
        return None
    host = (parts.hostname or "").lower()
    for suffix, wrapper_path, params in _REDIRECTORS:
        if path != wrapper_path:
            continue
        if not (host == suffix or host.endswith("." + suffix) or _is_google(host, suffix)):
            continue
        values = dict(parse_qsl(query, keep_blank_values=True))
        for param in params:
            target = values.get(param, "")
            if target.startswith(("http://", "https://")):
                return target
    return None


def _is_google(host: str, suffix: str) -> bool:
    # google.com/url exists on every country domain (google.co.uk, www.google.de, ...).
    if suffix != "google.com":
        return False
    labels = host.split(".")
    return "google" in labels[:-1] and labels[0] in ("google", "www")


def split_publisher_suffix(
    title: str, source_name: str | None, *, assume_suffix: bool = False
) -> tuple[str, str | None]:
    """Split "Headline - Publisher" into ("Headline", "Publisher").

    With a known ``source_name`` only that exact publisher (case-insensitive) is removed,
    whichever of " - ", " – ", " — ", " | " separates it. With ``assume_suffix`` (Google
    News feeds, whose titles always end in the publisher) and no source, the last " - "
    part is taken when it is short enough to be a name. Otherwise the title is unchanged
    and the publisher is None.
    """
    title = title.strip()
    if source_name:
        wanted = " ".join(source_name.split())
        for sep in _SUFFIX_SEPARATORS:
            # The name may hold a separator itself ("The Bay Chronicle - Farm Desk").
            suffix = sep + wanted
            if title[-len(suffix) :].casefold() == suffix.casefold():
                head = title[: -len(suffix)].strip()
                if head:
                    return head, title[-len(wanted) :]
        if not assume_suffix:
            return title, None
    if assume_suffix:
        head, found, tail = title.rpartition(" - ")
        tail = tail.strip()
        if found and head.strip() and tail and len(tail) <= 60 and len(tail.split()) <= 6:
            return head.strip(), tail
    return title, None


def _digest(*parts: str) -> str:
    # 12 bytes of BLAKE2b: 96 bits make accidental collisions irrelevant at our scale.
    raw = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=12).digest()
    # base64.urlsafe_b64encode, without its two Python-level wrappers (every entry polled
    # gets a raw key and a seeding poll ~3 identity keys more: ~400,000 for 2,000 feeds).
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).decode("ascii")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def raw_entry_key(entry: FeedEntry, *, feed_url: str) -> str:
    """A cheap key of an entry's raw guid and link (no cleaning, no URL parsing).

    Seeing it again means the same raw guid/link came from this feed before, so the entry
    shares an identity key with a seen item: the poller skips it without computing its
    full keys. Most entries of a changed feed are old ones, so this saves most of the work.
    """
    if entry.guid or entry.link:
        return "r:" + _digest(feed_url, entry.guid or "", entry.link or "")
    when = entry.published.isoformat() if entry.published else ""
    return "r:" + _digest(feed_url, "", "", entry.title, when)


def identity_keys(
    *,
    feed_url: str,
    guid: str | None,
    canonical: str | None,
    title: str,
    published: datetime | None,
    publisher: str | None = None,
) -> tuple[str, ...]:
    """Keys that identify an item across polls, strongest first (each 18 characters).

    ``g:`` hashes (feed URL, guid) when the guid looks stable: non-empty and not merely the
    item's URL (that is covered by ``u:``, and would break when the URL gains a tracking
    parameter). ``u:`` hashes the canonical URL. ``t:`` hashes (feed URL, folded title,
    publication day), for an item without a guid of its own (one whose link may change
    with every fetch); without a date only when nothing else identifies the item. An item
    with its own guid has no ``t:``: a recurring title ("Live updates", "Daily briefing")
    twice in one day is two items, and the second must not be taken for the first.

    With ``publisher`` (an aggregator's item: Google News, see
    :func:`~bot.core.googlenews.publisher_id`) ``p:`` hashes (publisher, folded title,
    publication day) instead of ``t:``: one feed carries many outlets, so two outlets'
    identical (syndicated) headlines are two articles, while one outlet's headline on one
    day stays one article when Google re-encodes its link and guid.
    """
    keys: list[str] = []
    guid = (guid or "").strip()
    own_guid = bool(guid) and not _guid_is_url_of(guid, canonical)
    if own_guid:
        keys.append("g:" + _digest(feed_url.strip(), guid))
    if canonical:
        keys.append("u:" + _digest(canonical))
    folded = " ".join(title.casefold().split())
    if folded and publisher:
        day = published.date().isoformat() if published is not None else ""
        keys.append("p:" + _digest(publisher, folded, day))
    elif folded and not own_guid and (published is not None or not keys):
        day = published.date().isoformat() if published is not None else ""
        keys.append("t:" + _digest(feed_url.strip(), folded, day))
    return tuple(keys)


def _guid_is_url_of(guid: str, canonical: str | None) -> bool:
    if canonical is None or not guid.startswith(("http://", "https://")):
        return False
    return guid == canonical or canonical_url(guid, keep_fragment="#" in canonical) == canonical


def article_from_entry(
    entry: FeedEntry,
    *,
    feed_url: str,
    feed_title: str | None,
    seen_at: datetime,
    identity: EntryIdentity | None = None,
) -> Article | None:
    """Clean one feed entry into an :class:`Article`; None when it has no title, no link
    and no text, or is an ad server's advert.

    Titles, summaries and content become plain text: the summary (for display) capped at
    :data:`SUMMARY_MAX_CHARS`, the content (stored) at :data:`CONTENT_MAX_CHARS`, and
    ``full_text`` (what watches match) uncut, so a long article carried whole in its
    description matches on its last paragraph too. A title keeps any '<' that is not
    markup beyond doubt (:func:`~bot.core.htmltext.title_to_text`). The publisher is the
    entry's own source (Google News ``<source>``), else the " - Publisher" suffix of a Google
    News title, else the host a redirector link (Google Alerts) leads to, else the feed
    title, else the feed's host. A missing date, or one more than a
    day after ``seen_at``, becomes ``seen_at`` with ``published_known=False``.
    """
    # The poller's screening computed the identity already: reusing it saves parsing
    # and hashing the link again (a third of a seeding poll's cleaning).
    head = identity.head if identity is not None else _identity_head(entry, feed_url)
    if head is None:
        return None
    link, canonical, title = head.link, head.canonical, head.title
    # Each text is cleaned once, whole; the display and stored copies are cuts of it.
    if head.google_news:
        description = clean_text(googlenews.summary_html(entry.summary))
        content_text = clean_text(googlenews.summary_html(entry.content))
    else:
        description = clean_text(entry.summary)
        content_text = clean_text(entry.content) if entry.content else ""
    if not title:
        title = _fallback_title(description or content_text, canonical)
    source = (
        clean_text(entry.source_name or "")
        or (head.suffix if head.google_news else None)
        or _relayed_publisher(link, canonical)
        or clean_text(feed_title or "")
        or _host(feed_url)
        or feed_url
    )
    shown = description or content_text
    if head.google_news:
        shown = _google_news_summary(shown, title, source)
    summary = _cap(shown, SUMMARY_MAX_CHARS)
    content = _cap(content_text, CONTENT_MAX_CHARS)
    published = entry.published
    known = published is not None and published <= seen_at + FUTURE_SLACK
    image = entry.image_url
    if image and link and not image.startswith(("http://", "https://")):
        image = urljoin(canonical or link, image)
    return Article(
        url=canonical or "",
        title=title,
        summary=summary,
        content=content,
        source=source,
        published=published if known and published is not None else seen_at,
        published_known=known,
        identity_keys=identity.keys
        if identity is not None
        else _keys(entry, head, title, feed_url),
        image_url=image,
        guid=entry.guid,
        full_text=_whole_text(description, content_text),
    )


def _google_news_summary(text: str, title: str, publisher: str) -> str:
    """A Google News description less what the alert shows already: the headline it opens
    with and the publisher glued before or after it (markup aside, see
    :func:`~bot.core.googlenews.summary_html`). A summary that only repeated the title is
    better empty."""
    for part in (publisher, title):
        if part and text[: len(part)].casefold() == part.casefold():
            text = text[len(part) :].lstrip(" -–—|·")
    if publisher and text[-len(publisher) :].casefold() == publisher.casefold():
        text = text[: -len(publisher)]
    return text.strip(" -–—|·")


def _cap(text: str, max_chars: int) -> str:
    return _truncate(text, max_chars) if len(text) > max_chars else text


def _whole_text(description: str, content: str) -> str:
    """Every word of the item once. The description is usually the content's opening
    (then the content alone holds it all), sometimes a text of its own (then both)."""
    if not content or content == description:
        return description
    if not description or description in content:
        return content
    return f"{description} {content}"


def entry_identity_keys(entry: FeedEntry, *, feed_url: str) -> tuple[str, ...]:
    """The identity keys :func:`article_from_entry` would give this entry, cheaply.

    Only the title and link are cleaned (the summary only for a title-less item), so a
    poller can drop already-seen entries before paying for full text cleaning. Empty when
    the entry would not become an article.
    """
    identity = entry_identity(entry, feed_url=feed_url)
    return identity.keys if identity is not None else ()


def entry_identity(entry: FeedEntry, *, feed_url: str) -> EntryIdentity | None:
    """:func:`entry_identity_keys` with what they were made of, for
    :func:`article_from_entry` to reuse (None when the entry would not become an article)."""
    head = _identity_head(entry, feed_url)
    if head is None:
        return None
    title = head.title or _fallback_title(_first_text(entry, head.google_news), head.canonical)
    return EntryIdentity(head, _keys(entry, head, title, feed_url))


class _Head(NamedTuple):
    link: str | None
    canonical: str | None
    title: str  # plain text, without the publisher suffix
    suffix: str | None  # the " - Publisher" taken off the title
    google_news: bool


class EntryIdentity(NamedTuple):
    """An entry's cleaned link and title and the identity keys made of them."""

    head: _Head
    keys: tuple[str, ...]


def _keys(entry: FeedEntry, head: _Head, title: str, feed_url: str) -> tuple[str, ...]:
    publisher = None
    if head.google_news:
        publisher = googlenews.publisher_id(entry.source_url, entry.source_name or head.suffix)
    return identity_keys(
        feed_url=feed_url,
        guid=entry.guid,
        canonical=head.canonical,
        title=title,
        published=entry.published,
        publisher=publisher,
    )


def _identity_head(entry: FeedEntry, feed_url: str) -> _Head | None:
    """What identifies an entry, cleaned: links, the title and the publisher suffix."""
    link = entry.link or (
        entry.guid if entry.guid and entry.guid.startswith(("http://", "https://")) else None
    )
    # A Google News feed, or a Google News link carried by some other feed.
    google_news = googlenews.is_google_news_host(_host(feed_url)) or (
        link is not None and "//news.google.com/" in link
    )
    if link is not None and any(mark in link for mark in _AD_SERVER_MARKS):
        return None
    title = title_to_text(entry.title)
    if not title and not link:
        # An item that is only text (an outliner's <body>, a micro-post) is still news:
        # its text stands in for the title.
        title = _fallback_title(_first_text(entry, google_news), None)
        if not title:
            return None
    canonical = None
    if link:
        # Feeds that address items by anchor (guid = page#item) need the fragment to tell
        # items apart; everywhere else a fragment is noise.
        keep_fragment = "#" in link and entry.guid is not None and entry.guid.strip() == link
        canonical = canonical_url(link, base=feed_url, keep_fragment=keep_fragment)
    title, suffix = split_publisher_suffix(title, entry.source_name, assume_suffix=google_news)
    return _Head(link, canonical, title, suffix, google_news)


def _first_text(entry: FeedEntry, google_news: bool) -> str:
    """The item's description, else its content, as plain text (for a title-less item)."""
    for raw in (entry.summary, entry.content):
        summary = clean_text(googlenews.summary_html(raw) if google_news else raw)
        if summary:
            return summary
    return ""


def _fallback_title(summary: str, canonical: str | None) -> str:
    title = summary or canonical or ""
    return _truncate(title, TITLE_FALLBACK_CHARS) if len(title) > TITLE_FALLBACK_CHARS else title


def _relayed_publisher(link: str | None, canonical: str | None) -> str | None:
    """The host of the article a redirector link leads to (Google Alerts' google.com/url,
    a Facebook or Tumblr wrapper): its publisher, where the feed only relays it. Without
    it every relayed article would carry the feed's name, and a story two of them carry
    would not show two outlets."""
    if not link or not canonical or not any(mark in link for mark in _REDIRECT_MARKS):
        return None
    try:
        if _unwrap_redirect(urlsplit(link)) is None:
            return None
    except ValueError:
        return None
    return _host(canonical).removeprefix("www.") or None


@lru_cache(maxsize=4096)  # called with the same few feed URLs for every entry
def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""

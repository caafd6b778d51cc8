"""Global options wherever the user puts them, bounded counts, duplicate feeds: the real
`python -m bot` in a subprocess, as a user types it."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.cli.test_cli import news, wirewatch, write_config
from tests.feedserver import FeedServer, rss


async def test_config_is_accepted_after_the_subcommand(tmp_path: Path) -> None:
    """`wirewatch feeds list --config x.toml` reads x.toml, as does `--config` before the
    subcommand and between a command and its action; `-v` works after the action too."""
    cfg = write_config(tmp_path, ["https://feeds.test/a.rss"])
    for argv in (
        ("--config", str(cfg), "feed", "list"),
        ("feed", "list", "--config", str(cfg)),
        ("feeds", "list", "--config", str(cfg)),
        ("feed", "--config", str(cfg), "list"),
        ("feeds", "list", "-v", "--config", str(cfg)),
    ):
        code, out, err = await wirewatch(*argv)
        assert code == 0, (argv, err)
        assert "https://feeds.test/a.rss" in out, argv
    code, _, err = await wirewatch("feeds", "list", "-v", "--config", str(cfg))
    assert "DEBUG" in err or '"level": "debug"' in err


async def test_config_after_the_subcommand_wins_over_the_environment(tmp_path: Path) -> None:
    """`status --config b.toml` uses b.toml even when $WIREWATCH_CONFIG names another file."""
    first = tmp_path / "one"
    second = tmp_path / "two"
    first.mkdir()
    second.mkdir()
    cfg_a = write_config(first, ["https://feeds.test/a.rss"])
    cfg_b = write_config(second, ["https://feeds.test/b.rss"])
    code, out, err = await wirewatch(
        "feeds", "list", "--config", str(cfg_b), env={"WIREWATCH_CONFIG": str(cfg_a)}
    )
    assert code == 0, err
    assert "b.rss" in out and "a.rss" not in out


async def test_a_config_option_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    """A missing file named after the subcommand: exit 2, one line naming the file."""
    missing = tmp_path / "nope.toml"
    code, out, err = await wirewatch("status", "--config", str(missing))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"wirewatch: config file not found: {missing}"]


async def test_latest_limit_must_be_a_sensible_count(tmp_path: Path) -> None:
    """-1, 0, an absurd number or a word: a usage message naming --limit, exit 2, nothing
    printed on stdout and no database touched."""
    cfg = write_config(tmp_path, [])
    for bad in ("-1", "0", "1000001", "ten"):
        for command in (("latest",), ("latest", "tariff"), ("watch", "test", "tariff")):
            code, out, err = await wirewatch(*command, "--limit", bad, config=cfg)
            assert (code, out) == (2, ""), (command, bad)
            assert "argument --limit" in err and "Traceback" not in err, err
    assert not (tmp_path / "ww.db").exists()


async def test_latest_limit_is_honoured(tmp_path: Path) -> None:
    """A valid --limit caps what `latest` prints."""
    async with FeedServer() as server:
        server.set_feed(
            "/a.rss", rss([news(f"n{i}", f"Tariff story {i}", 5 + i) for i in range(4)])
        )
        cfg = write_config(tmp_path, [server.url("/a.rss")])
        await wirewatch("poll", "--once", config=cfg)
        code, out, _ = await wirewatch("latest", "--limit", "2", "--json", config=cfg)
        assert code == 0 and len(out.splitlines()) == 2
        code, out, _ = await wirewatch("latest", "tariff", "--limit", "3", config=cfg)
        assert code == 0 and out.count("Tariff story") == 3


async def test_adding_a_feed_twice_says_it_is_already_there(tmp_path: Path) -> None:
    """The second `feed add` of the same URL exits 1 with one line naming the feed already
    reading it; the list still has one feed."""
    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([news("x", "Rare earth magnets shortage", 5)]))
        cfg = write_config(tmp_path, [])
        url = server.url("/a.rss")
        code, out, _ = await wirewatch("feed", "add", url, config=cfg)
        assert code == 0 and "added feed #1" in out
        code, out, err = await wirewatch("feeds", "add", url, "--config", str(cfg))
        assert (code, out) == (1, "")
        assert err.splitlines() == [f"wirewatch: feed #1 already reads {url}"]
        code, out, _ = await wirewatch("feed", "list", config=cfg)
        assert out.count(url) == 1
        # The same address written otherwise is the same feed (each was added again).
        host = url.removeprefix("http://").split("/")[0]
        for other in (
            f"HTTP://{host}/a.rss",
            f"{url}#latest",
            f"http://{host}/news/../a.rss",
            f"http://{host}/%61.rss",
        ):
            code, _, err = await wirewatch("feed", "add", other, config=cfg)
            assert code == 1 and "feed #1 already reads" in err, (other, err)


async def test_a_feed_is_removed_by_the_address_it_was_added_with(tmp_path: Path) -> None:
    """`feed add` stores one form of the address; `feed remove` with the address as the
    user typed it when adding (case, a fragment) finds that feed, instead of "no feed"."""
    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([news("x", "Rare earth magnets shortage", 5)]))
        cfg = write_config(tmp_path, [])
        host = server.url("/a.rss").removeprefix("http://").split("/")[0]
        typed = f"HTTP://{host}/news/../a.rss#top"
        code, out, err = await wirewatch("feed", "add", typed, config=cfg)
        assert code == 0 and "added feed #1" in out, err
        code, out, err = await wirewatch("feed", "remove", typed, config=cfg)
        assert code == 0 and "#1" in out, (out, err)
        code, out, _ = await wirewatch("feed", "list", config=cfg)
        assert "a.rss" not in out


async def test_watch_add_refuses_a_destination_typo(tmp_path: Path) -> None:
    """`--channel slak:C123` is refused before anything is stored, suggesting slack:C123."""
    cfg = write_config(tmp_path, [])
    code, out, err = await wirewatch("watch", "add", "tariff", "--channel", "slak:C123", config=cfg)
    assert (code, out) == (2, "")
    assert "did you mean 'slack:C123'?" in err
    code, out, err = await wirewatch(
        "watch", "add", "tariff", "--channel", "discord:general", config=cfg
    )
    assert code == 2 and "numeric id" in err
    code, out, _ = await wirewatch("watch", "list", config=cfg)
    assert "tariff" not in out


async def test_feed_add_and_check_refuse_a_malformed_url_before_fetching(tmp_path: Path) -> None:
    """No scheme, another scheme, a space: a usage error naming the problem, nothing stored."""
    cfg = write_config(tmp_path, [])
    cases = {
        "news.test/rss": "must start with http:// or https://",
        "ftp://news.test/rss": "must start with http:// or https://",
        "https://news.test/world feed.xml": "contains spaces",
        "http:///rss": "has no host name",
    }
    for url, problem in cases.items():
        for action in ("add", "check"):
            code, out, err = await wirewatch("feed", action, url, config=cfg)
            assert (code, out) == (2, ""), (action, url, err)
            assert f"argument url: feed URL {url!r} {problem}" in err
    code, out, _ = await wirewatch("feed", "list", config=cfg)
    assert code == 0 and out.startswith("no feeds yet")


async def test_a_query_that_starts_with_an_exclusion_is_a_query(tmp_path: Path) -> None:
    """`watch add '-sports tariff'` adds that watch, and `watch add -sports` gets the
    query's own refusal, where argparse took both for an unknown option ("the following
    arguments are required: query")."""
    cfg = write_config(tmp_path, [])
    code, out, err = await wirewatch(
        "watch", "add", "-sports tariff", "--name", "no sport", config=cfg
    )
    assert code == 0, err
    assert "added watch #3: -sports tariff" in out
    code, _, err = await wirewatch("watch", "add", "-sports", config=cfg)
    assert code == 1 and "needs at least one positive term" in err
    code, _, err = await wirewatch("latest", "-sports", "--limit", "3", config=cfg)
    assert code == 1 and "needs at least one positive term" in err


async def test_watch_add_google_news_polls_a_search_of_the_query(tmp_path: Path) -> None:
    """`watch add QUERY --google-news` (as `google_news = true` in the config and
    `google-news` in chat): the watch is listed as searching, its search feed is listed,
    its first read is silent and a new item found by the search alerts on the console."""
    asked: list[str] = []
    items: list[dict[str, object]] = [news("old", "Rare earth magnets: quotas unchanged", 300)]

    async def google(request: web.Request) -> web.Response:
        asked.append(request.query.get("q", ""))
        return web.Response(text=rss(items), content_type="application/rss+xml")

    async with FeedServer() as server:
        server.set_handler("/rss/search", google)
        search = server.url("/rss/search") + "?q={q}&hl=en-US"
        cfg = write_config(tmp_path, [])
        cfg.write_text(
            cfg.read_text().replace("[fetch]\n", f'[fetch]\ngoogle_news_url = "{search}"\n')
        )
        code, out, err = await wirewatch(
            "watch", "add", '"rare earth" magnets', "--google-news", config=cfg
        )
        assert code == 0, err
        assert "also searches Google News" in out
        code, out, _ = await wirewatch("watch", "list", config=cfg)
        assert "searches Google News" in out
        code, out, _ = await wirewatch("feed", "list", config=cfg)
        assert "/rss/search?q=" in out
        code, out, _ = await wirewatch("poll", "--once", config=cfg)
        assert code == 0 and "quotas unchanged" not in out  # the first read is silent
        assert asked and "rare earth" in asked[-1] and "magnets" in asked[-1]
        items.insert(0, news("new", "China tightens rare earth magnets exports", 1))
        code, out, _ = await wirewatch("poll", "--once", config=cfg)
        assert code == 0 and "China tightens rare earth magnets exports" in out
        # A query Google cannot search is refused with the reason, and no watch is added.
        code, _, err = await wirewatch("watch", "add", "/magnets?/", "--google-news", config=cfg)
        assert code == 1 and "Google" in err
        code, out, _ = await wirewatch("watch", "list", config=cfg)
        assert "/magnets?/" not in out


async def test_a_webhooks_secret_is_never_printed(tmp_path: Path) -> None:
    """A webhook URL's last part is its password, and a terminal's output is often a log
    (`docker compose logs`): `watch add`, `watch list`, a refused `--channel` and a config
    error all show the webhook with its secret masked."""
    secret = "k3yOfTheW3bhook-Xy_z"
    hook = f"discord-webhook:https://discord.com/api/webhooks/123/{secret}"
    cfg = write_config(tmp_path, [])
    outputs = []
    outputs.append(await wirewatch("watch", "add", "tariffs", "--channel", hook, config=cfg))
    outputs.append(await wirewatch("watch", "list", config=cfg))
    bad = hook.replace("https://", "ftp://")
    outputs.append(await wirewatch("watch", "add", "lithium", "--channel", bad, config=cfg))
    broken = tmp_path / "broken.toml"
    broken.write_text(cfg.read_text() + f'[delivery]\ndefault_destinations = ["{bad}"]\n')
    outputs.append(await wirewatch("status", config=broken))
    assert [code for code, _, _ in outputs] == [0, 0, 2, 2]
    for _, out, err in outputs:
        assert secret not in out + err
    assert "discord.com/api/webhooks/123/***" in outputs[0][1] + outputs[1][1]
    assert "webhooks/123/***" in outputs[2][2] and "webhooks/123/***" in outputs[3][2]

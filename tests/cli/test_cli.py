"""The `wirewatch` command line as scripts use it: real subprocesses, a real feed server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.feedserver import FeedServer, rss

ROOT = Path(__file__).resolve().parents[2]


async def wirewatch(
    *args: str, config: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    argv = [sys.executable, "-m", "bot"]
    if config is not None:
        argv += ["--config", str(config)]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write_config(tmp_path: Path, feeds: list[str], *, extra: str = "") -> Path:
    cfg = tmp_path / "wirewatch.toml"
    feed_lines = "".join(f'[[feeds]]\nurl = "{u}"\n' for u in feeds)
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "ww.db"}"\n'
        "[fetch]\nallow_private_addresses = true\n"
        "[health]\nenabled = false\n"
        '[[watches]]\nname = "rare earth"\nquery = \'"rare earth"\'\n'
        '[[watches]]\nname = "Greer"\nquery = \'Greer -"Germaine Greer"\'\n' + feed_lines + extra
    )
    return cfg


def news(slug: str, title: str, minutes_ago: int) -> dict[str, object]:
    return {
        "title": title,
        "link": f"https://news.test/{slug}?utm_source=rss",
        "guid": f"news-{slug}",
        "description": f"<p>{title}</p>",
        "pubDate": datetime.now(UTC) - timedelta(minutes=minutes_ago),
    }


async def test_poll_once_json_prints_one_object_per_alert(tmp_path: Path) -> None:
    """`poll --once --json`: silent first poll, then exactly the new alerts as JSON lines
    with the documented keys; logs stay on stderr; a failing feed is reported, not fatal."""
    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([news("old", "Rare earth quotas unchanged", 300)]))
        server.set_feed("/broken.rss", "no", status=503, headers={"Retry-After": "120"})
        cfg = write_config(tmp_path, [server.url("/a.rss"), server.url("/broken.rss")])

        code, out, err = await wirewatch("poll", "--once", "--json", config=cfg)
        assert (code, out) == (0, "")
        assert "503" in err
        # Why nothing printed: said once, for the one feed that answered.
        assert "1 feed was polled for the first time" in err and "backfill" in err

        server.set_feed(
            "/a.rss",
            rss(
                [
                    news("new", "Greer and rare earth talks resume", 1),
                    news("old", "Rare earth quotas unchanged", 300),
                ]
            ),
        )
        code, out, err = await wirewatch("poll", "--once", "--json", config=cfg)
        assert code == 0
        rows = [json.loads(line) for line in out.splitlines()]
        assert sorted(r["watch"] for r in rows) == ['"rare earth"', 'Greer -"Germaine Greer"']
        for r in rows:
            assert {
                "watch",
                "watch_id",
                "feed",
                "source",
                "title",
                "url",
                "published",
                "matched",
                "story",
            } <= set(r)
            assert r["url"] == "https://news.test/new"  # tracking parameters removed
            assert r["feed"] == server.url("/a.rss")
            assert r["published"].endswith("Z")
        assert {tuple(r["matched"]) for r in rows} == {("rare earth",), ("Greer",)}
        assert len({r["story"] for r in rows}) == 1

        code, out, _ = await wirewatch("poll", "--once", "--json", config=cfg)
        assert (code, out) == (0, "")


async def test_poll_once_says_which_feeds_another_instance_is_polling(
    tmp_path: Path, postgres_url: str
) -> None:
    """Instances sharing PostgreSQL: a forced poll leaves a feed another instance holds a
    live lease on to it, and says so rather than polling fewer feeds without a word."""
    import asyncpg

    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([news("a", "Rare earth quotas unchanged", 30)]))
        server.set_feed("/b.rss", rss([news("b", "Greer opens tariff talks", 30)]))
        cfg = write_config(tmp_path, [server.url("/a.rss"), server.url("/b.rss")])
        cfg.write_text(
            cfg.read_text().replace(f"sqlite+aiosqlite:///{tmp_path / 'ww.db'}", postgres_url, 1)
        )
        code, _out, err = await wirewatch("poll", "--once", config=cfg)
        assert code == 0 and "polled 2 feeds" in err and "left out" not in err

        db = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await db.execute(
                "UPDATE feeds SET lease_owner = 'another-instance',"
                " lease_until = now() + interval '5 minutes' WHERE url = $1",
                server.url("/b.rss"),
            )
        finally:
            await db.close()
        code, _out, err = await wirewatch("poll", "--once", config=cfg)
        assert code == 0 and "polled 1 feeds" in err
        assert "1 feed was left out: another instance holds its lease and polls it" in err
        assert "runs out within 5 minutes" in err


async def test_watch_feed_latest_status_and_why_commands(tmp_path: Path) -> None:
    """The management commands work against the same store and say clearly what failed."""
    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([news("x", "Rare earth magnets shortage", 5)]))
        cfg = write_config(tmp_path, [])

        code, out, _ = await wirewatch("feed", "add", server.url("/a.rss"), config=cfg)
        assert code == 0 and "added feed #1" in out
        code, _, err = await wirewatch("watch", "add", "(tariff OR", config=cfg)
        assert code == 1 and "bad query" in err and "^" in err
        code, out, _ = await wirewatch("watch", "add", "magnets", "--name", "magnets", config=cfg)
        assert code == 0 and "added watch #3" in out

        await wirewatch("poll", "--once", config=cfg)
        code, out, _ = await wirewatch("latest", "--json", config=cfg)
        [row] = [json.loads(line) for line in out.splitlines()]
        assert row["title"] == "Rare earth magnets shortage"
        code, out, _ = await wirewatch("watch", "test", "magnet", config=cfg)
        assert "Rare earth magnets shortage" in out and "matched: magnet" in out
        code, out, _ = await wirewatch("status", config=cfg)
        assert code == 0 and "last success" in out and "1 ok" in out
        code, out, _ = await wirewatch("why", "https://news.test/x", config=cfg)
        assert code == 0 and "first poll of the feed" in out
        code, out, _ = await wirewatch("watch", "remove", "magnets", config=cfg)
        assert code == 0 and "removed watch #3" in out
        code, _, err = await wirewatch("watch", "remove", "99", config=cfg)
        assert code == 1 and "no watch" in err


async def test_feed_check_reads_a_web_page_as_feed_add_does(tmp_path: Path) -> None:
    """`feed check` of a site's page checks the feed the page names, as `feed add` would
    add it (it refused the page: "not a feed: looks like an HTML page")."""
    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([news("x", "Rare earth magnets shortage", 5)]))
        page = (
            '<html><head><link rel="alternate" type="application/rss+xml" href="/a.rss">'
            "</head><body>Home</body></html>"
        )
        server.set_feed("/home", page, content_type="text/html")
        server.set_feed("/plain", "<html><body>shop</body></html>", content_type="text/html")
        cfg = write_config(tmp_path, [])
        code, out, err = await wirewatch("feed", "check", server.url("/home"), config=cfg)
        assert code == 0, err
        assert f"is a web page; the feed it names is {server.url('/a.rss')}" in out
        assert "OK: " in out and "Rare earth magnets shortage" in out
        code, _, err = await wirewatch("feed", "check", server.url("/plain"), config=cfg)
        assert code == 1 and "it names no feed" in err


async def test_an_empty_store_says_what_to_do_next(tmp_path: Path) -> None:
    """A newcomer's first `feed list`, `watch list` and `latest` say how to fill them
    (on stdout, as their rows would be); `latest --json` stays empty for scripts."""
    cfg = tmp_path / "empty.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "e.db"}"\n[health]\nenabled = false\n'
    )
    code, out, _ = await wirewatch("feed", "list", config=cfg)
    assert code == 0 and "no feeds yet" in out and "wirewatch feed add URL" in out
    code, out, _ = await wirewatch("watch", "list", config=cfg)
    assert code == 0 and "no watches yet" in out and "wirewatch watch add QUERY" in out
    code, out, _ = await wirewatch("latest", config=cfg)
    assert code == 0 and "no articles stored yet" in out
    code, out, _ = await wirewatch("latest", "tariffs", config=cfg)
    assert code == 0 and "no stored recent article matches" in out
    code, out, _ = await wirewatch("latest", "--json", config=cfg)
    assert (code, out) == (0, "")


async def test_status_of_many_feeds_shows_the_failing_ones(tmp_path: Path) -> None:
    """Past 20 feeds (an OPML import), `status` lists only the feeds that need a look (the
    failing ones, and one whose last poll failed: retrying) and says how to see the rest;
    `status --all` lists every one."""
    async with FeedServer() as server:
        urls = []
        for i in range(23):
            server.set_feed(f"/ok{i}.rss", rss([news(f"s{i}", f"Story {i}", 5)]))
            urls.append(server.url(f"/ok{i}.rss"))
        for name in ("down", "gone"):
            server.set_feed(f"/{name}.rss", "no", status=503)
            urls.append(server.url(f"/{name}.rss"))
        server.set_feed("/flaky.rss", rss([news("f", "Flaky story", 5)]))
        urls.append(server.url("/flaky.rss"))
        cfg = write_config(tmp_path, urls, extra="[poll]\nfailing_after = 2\n")
        code, out, _ = await wirewatch("status", config=cfg)  # never polled: new, not ok
        assert code == 0 and "feeds: 26 (26 new, 0 ok, 0 retrying, 0 failing)" in out
        await wirewatch("poll", "--once", config=cfg)
        server.set_feed("/flaky.rss", "busy", status=500)
        await wirewatch("poll", "--once", config=cfg)

        code, out, _ = await wirewatch("status", config=cfg)
        assert code == 0 and "feeds: 26 (23 ok, 1 retrying, 2 failing)" in out
        assert "/down.rss" in out and "/gone.rss" in out and "503" in out
        flaky = out[out.index("retrying") :]
        assert "last success: 20" in flaky and "last error: HTTP 500" in flaky
        assert "/ok0.rss" not in out
        assert "23 feeds not failing or retrying: `wirewatch status --all` lists them" in out

        code, out, _ = await wirewatch("status", "--all", config=cfg)
        assert code == 0 and all(f"/ok{i}.rss" in out for i in range(23))
        assert "/down.rss" in out and "not failing" not in out

        code, out, _ = await wirewatch("feed", "list", config=cfg)
        assert "[retrying since 20" in out and ": HTTP 500" in out


async def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    """`wirewatch feed list | head -n 1`: the reader leaves early; the command stops with
    the status of a SIGPIPE (141) and writes no error."""
    cfg = write_config(tmp_path, [f"https://feeds{i}.news.test/rss" for i in range(2000)])
    shell = (
        f"{sys.executable} -m bot --config {cfg} feed list | head -n 1 >/dev/null;"
        ' echo "status=${PIPESTATUS[0]}" >&2'
    )
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        shell,
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert err.decode().strip() == "status=141"


async def test_bad_config_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    """A broken config or a secret in the file stops the run before it starts."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[[watches]]\nquery = '(rare'\n")
    code, _, err = await wirewatch("poll", "--once", config=bad)
    assert code == 2 and "watch" in err and "position" in err
    secret = tmp_path / "secret.toml"
    secret.write_text('[discord]\ntoken = "abc"\n')
    code, _, err = await wirewatch("status", config=secret)
    assert code == 2 and "DISCORD_TOKEN" in err and "abc" not in err


async def test_user_added_feed_cannot_reach_private_addresses(tmp_path: Path) -> None:
    """Without allow_private_addresses, `feed add` of a loopback URL is refused with why."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "c.db"}"\n[health]\nenabled=false\n'
    )
    code, _, err = await wirewatch("feed", "add", "http://127.0.0.1:9/feed", config=cfg)
    assert code == 1 and "loopback" in err


async def test_demo_shows_alerts_offline(tmp_path: Path) -> None:
    """`wirewatch demo` serves sample feeds locally and shows the grouped alerts, in a
    database of its own even where the environment names the operator's (it recorded its
    outlets and watches there, and switched the operator's config feeds off)."""
    operators = tmp_path / "operator.db"
    env = {"WIREWATCH_DATABASE__URL": f"sqlite+aiosqlite:///{operators}"}
    code, out, _ = await wirewatch("demo", env=env)
    assert code == 0
    assert not operators.exists()
    assert "0 alerts (a new feed's first poll is silent" in out
    assert out.count("China, U.S. set for key trade talks in Malaysia") == 1
    assert "Germaine Greer" not in out.split("3. Poll again")[0].split("2. Next poll")[1]
    assert "matched: rare earth" in out


async def test_poll_json_carries_the_storys_other_outlets_and_news_of_its_own(
    tmp_path: Path,
) -> None:
    """A story's JSON line names the other outlets' articles (``coverage``) and, by
    headline, the articles that are news of their own (``further``), as chat messages do."""
    headline = "China expands rare earth export controls to five more elements"
    async with FeedServer() as server:
        server.set_feed(
            "/a.rss", rss([news("old", "Greer opens tariff talks", 300)], title="Wire A")
        )
        server.set_feed(
            "/b.rss", rss([news("b-old", "Soybean prices steady", 300)], title="Wire B")
        )
        cfg = write_config(tmp_path, [server.url("/a.rss"), server.url("/b.rss")])
        code, out, _ = await wirewatch("poll", "--once", "--json", config=cfg)
        assert (code, out) == (0, "")

        follow_up = {
            **news("holmium", "China's expanded rare earth export controls add holmium", 2),
            "description": "Holmium and four other elements now need an export licence.",
        }
        first = news("controls", headline, 5)
        server.set_feed("/a.rss", rss([follow_up, first], title="Wire A"))
        server.set_feed("/b.rss", rss([news("b-controls", headline, 4)], title="Wire B"))
        code, out, err = await wirewatch("poll", "--once", "--json", config=cfg)
        assert code == 0, err
        (row,) = [json.loads(line) for line in out.splitlines()]
        assert row["url"] == "https://news.test/controls"
        assert row["source"] == "Wire A"
        assert row["also_reported_by"] == ["Wire B"]
        assert row["coverage"] == [{"source": "Wire B", "url": "https://news.test/b-controls"}]
        assert row["further"] == [
            {
                "source": "Wire A",
                "title": "China's expanded rare earth export controls add holmium",
                "url": "https://news.test/holmium",
            }
        ]
        assert row["updated"] is False


async def test_latest_prints_a_story_once_with_its_other_outlets(tmp_path: Path) -> None:
    """Two outlets carry one story: `latest` prints it once, led by its first report (read
    in one poll: the first published), with the other outlet on an "also reported by" line
    (and in the JSON line)."""
    headline = "China expands rare earth export controls to five more elements"
    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([], title="Wire A"))
        server.set_feed("/b.rss", rss([], title="Wire B"))
        cfg = write_config(tmp_path, [server.url("/a.rss"), server.url("/b.rss")])
        assert (await wirewatch("poll", "--once", config=cfg))[0] == 0
        server.set_feed(
            "/a.rss",
            rss([news("controls", headline, 5), news("soy", "Soybean prices steady", 9)],
                title="Wire A"),
        )  # fmt: skip
        server.set_feed("/b.rss", rss([news("b-controls", headline, 4)], title="Wire B"))
        assert (await wirewatch("poll", "--once", config=cfg))[0] == 0

        code, out, err = await wirewatch("latest", config=cfg)
        assert code == 0, err
        assert out.count(headline) == 1 and "Soybean prices steady" in out
        assert "Wire A: " + headline in out and "    also reported by: Wire B\n" in out
        code, out, err = await wirewatch("latest", "--json", config=cfg)
        rows = [json.loads(line) for line in out.splitlines()]
        assert [(r["source"], r["also_reported_by"]) for r in rows] == [
            ("Wire A", ["Wire B"]),
            ("Wire A", []),
        ]
        assert rows[0]["url"] == "https://news.test/controls"
        assert rows[0]["coverage"] == [{"source": "Wire B", "url": "https://news.test/b-controls"}]
        assert rows[0]["further"] == []
        # Wire B's copy came a minute after the first report: the story's latest coverage.
        assert rows[0]["latest_activity"] > rows[0]["published"]
        assert rows[1]["latest_activity"] is None
        code, out, _ = await wirewatch("latest", config=cfg)
        assert out.count("    latest coverage: ") == 1
        assert f"    latest coverage: {rows[0]['latest_activity']}\n" in out


async def test_latest_lists_a_new_feeds_undated_backlog_below_the_dated_news(
    tmp_path: Path,
) -> None:
    """A feed added today whose items carry no date: its first poll records them silently,
    and `latest` lists them below the news dated before they were read (they were in the
    feed already, of any age). An undated item the same feed carries later is news when
    first seen: listed first."""

    def undated(slug: str, title: str) -> dict[str, object]:
        return {**news(slug, title, 0), "pubDate": None}

    backlog = ["Archive: rare earth quotas of 2019", "Archive: lithium in the Andes"]
    async with FeedServer() as server:
        server.set_feed("/wire.rss", rss([news("soy", "Soybean futures steady", 30)]))
        server.set_feed(
            "/archive.rss",
            rss([undated(f"old{i}", t) for i, t in enumerate(backlog)], title="Archive"),
        )
        cfg = write_config(tmp_path, [server.url("/wire.rss")])
        assert (await wirewatch("poll", "--once", config=cfg))[0] == 0
        code, _, err = await wirewatch("feed", "add", server.url("/archive.rss"), config=cfg)
        assert code == 0, err
        assert (await wirewatch("poll", "--once", config=cfg))[0] == 0

        code, out, err = await wirewatch("latest", "--json", config=cfg)
        assert code == 0, err
        assert [json.loads(row)["title"] for row in out.splitlines()] == [
            "Soybean futures steady",
            *backlog,  # among themselves in the feed's order (a feed lists its newest first)
        ]

        later = undated("cobalt", "Cobalt exports halted at the border")
        server.set_feed(
            "/archive.rss",
            rss([later, *(undated(f"old{i}", t) for i, t in enumerate(backlog))], title="Archive"),
        )
        assert (await wirewatch("poll", "--once", config=cfg))[0] == 0
        code, out, err = await wirewatch("latest", config=cfg)
        assert code == 0, err
        titles = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("[")]
        assert titles == [later["title"], "Soybean futures steady", *backlog]
        assert out.startswith("[undated] Archive: Cobalt exports halted")

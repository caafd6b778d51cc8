"""Core command replies (:mod:`bot.core.commands.reply`) as Slack mrkdwn and Block Kit.

Plain spans are untrusted (a query, a feed title, an error reason) and are escaped; a
:class:`Cmd` becomes ``/wirewatch watch list``; a :class:`When` is a Slack date every
reader sees in their own time zone.
"""

from __future__ import annotations

from bot.adapters.slack.render import (
    MAX_BLOCKS,
    Block,
    SlackMessage,
    ago,
    escape_text,
    fit_blocks,
    link,
    render_articles,
    section,
    sections_from_lines,
    slack_date,
)
from bot.core.commands.reply import (
    Articles,
    Cmd,
    Code,
    Line,
    Link,
    Native,
    Paragraph,
    Pre,
    Reply,
    Section,
    Strong,
    UserRef,
    When,
    plain_text,
)


def _code(text: str) -> str:
    # A backtick inside would end the code span early; the look-alike keeps it readable.
    return "`" + escape_text(text).replace("`", "ˋ") + "`"


def mrkdwn(spans: Line, command: str) -> str:
    out: list[str] = []
    for span in spans:
        if isinstance(span, str):
            out.append(escape_text(span))
        elif isinstance(span, Cmd):
            out.append(_code(f"{command} {span.name}" + (f" {span.args}" if span.args else "")))
        elif isinstance(span, Code):
            out.append(_code(span.text))
        elif isinstance(span, Strong):
            out.append(f"*{escape_text(span.text)}*")
        elif isinstance(span, Link):
            out.append(link(span.url, span.label or span.url))
        elif isinstance(span, UserRef):
            out.append(f"<@{escape_text(span.user_id)}>")
        elif isinstance(span, Native):
            out.append(span.text)
        elif isinstance(span, When):
            out.append(slack_date(span.at) if span.absolute and span.at else ago(span.at))
    return "".join(out)


def render_reply(reply: Reply, command: str) -> SlackMessage:
    """A whole reply as one Slack message, inside Slack's block limits."""
    blocks: list[Block] = []
    for block in reply.blocks:
        room = MAX_BLOCKS - len(blocks) - 1
        if room <= 0:
            break
        if isinstance(block, Paragraph):
            blocks.append(section(mrkdwn(block.spans, command)))
        elif isinstance(block, Section):
            heading = f"*{mrkdwn(block.heading, command)}*"
            rows = [mrkdwn(r, command) for r in block.lines] or (
                [mrkdwn(block.empty, command)] if block.empty else []
            )
            blocks.extend(sections_from_lines([heading, *rows], max_blocks=room))
        elif isinstance(block, Pre):
            # Line by line: escaping drops control characters, the line break among them,
            # and a query's caret then sat beside it instead of under the fault.
            lines = (escape_text(line) for line in block.text.split("\n"))
            blocks.append(section("```" + "\n".join(lines) + "```"))
        elif isinstance(block, Articles):
            blocks.extend(render_articles(block.articles, "").blocks[1:][:room])
    text = escape_text(plain_text((reply.summary,)))
    return SlackMessage(text=text, blocks=fit_blocks(blocks))


def render_line(spans: Line, command: str) -> SlackMessage:
    """A one-line message (an announcement in the channel)."""
    text = mrkdwn(spans, command)
    return SlackMessage(text=text, blocks=[section(text)])

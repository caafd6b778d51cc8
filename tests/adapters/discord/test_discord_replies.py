"""A command's answer as Discord shows it: its paragraphs within the 2,000 characters of a
message's content, none of them pushed out by a long one before it."""

from __future__ import annotations

from bot.adapters.discord.replies import render_reply
from bot.core.commands.reply import Code, Paragraph, Reply


def test_a_long_first_paragraph_is_shortened_so_the_later_ones_are_still_said() -> None:
    """An answer naming sixty long watches, then the one name nobody has: the sixty are
    cut short, the last paragraph is said whole (it was cut off past 2,000 characters)."""
    names = [f"rare-earth-magnets-and-export-controls-desk-{i:02d}" for i in range(60)]
    changed = ("Alerts off here for ", *(Code(n) for n in names), ".")
    unknown = ("No watch called ", Code("nosuchwatch"), " here.")
    content, embeds = render_reply(
        Reply(summary="x", blocks=(Paragraph(changed), Paragraph(unknown)))
    )
    assert content is not None and len(content) <= 2000 and not embeds
    first, last = content.split("\n")
    assert first.startswith("Alerts off here for `rare-earth")
    assert last == "No watch called `nosuchwatch` here."


def test_short_paragraphs_are_all_kept_whole() -> None:
    content, _ = render_reply(
        Reply(summary="x", blocks=(Paragraph(("One.",)), Paragraph(("Two.",))))
    )
    assert content == "One.\nTwo."

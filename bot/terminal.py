"""Text made safe to print on a terminal.

Feed text is written by strangers, and a terminal obeys what it prints: ``ESC ] 0 ; … BEL``
retitles the window, ``ESC [ 2 J`` clears the screen, OSC 52 writes the clipboard, and some
terminals answer queries by typing into the shell. :func:`terminal_text` removes whole
escape sequences (so no ``]0;pwned`` residue is left on screen) and then every other C0 and
C1 control except newline and tab. It is applied where the console adapter, the CLI and the
text log formatter print what came from outside.
"""

from __future__ import annotations

import re

from bot.core.display import ESCAPE_SEQUENCE as _SEQUENCE

__all__ = ["terminal_text"]

# What is left: lone ESCs, C0 controls (CR rewrites a line, BS erases), DEL and C1.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str) -> str:
    """``text`` without terminal escape sequences or control characters (newline and tab
    are kept)."""
    if text.isprintable():
        return text
    return _CONTROL.sub("", _SEQUENCE.sub("", text))

"""Messages that stay one line, whatever a user typed into a path or a flag."""

from __future__ import annotations


def one_line(message: str) -> str:
    """``message`` with control characters escaped (a pasted newline shows as ``\\n``), so an
    error stays the one line it is meant to be, whatever the user typed."""
    return "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode()
        for character in message
    )

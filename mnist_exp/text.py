"""Text from outside (file names, user input) made safe to print on one line."""

from __future__ import annotations


def printable(text: object) -> str:
    """`text` with control characters (newlines, escapes, ...) written as escapes, so that a
    file name can never start a forged line or move the cursor."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else repr(character)[1:-1] for character in text
    )

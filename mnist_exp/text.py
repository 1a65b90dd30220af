"""Text from outside (file names, user input) made safe to print on one line."""

from __future__ import annotations

from pathlib import Path


def printable(text: object) -> str:
    """`text` with control characters (newlines, escapes, ...) written as escapes, so that a
    file name can never start a forged line or move the cursor."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else repr(character)[1:-1] for character in text
    )


# A cell that starts with one of these is a formula to spreadsheet programs (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: object) -> object:
    """A CSV cell as spreadsheets show it, never as a formula: text that starts like one is
    prefixed with `'` (OWASP's advice); numbers and None are returned as they are."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def shown_path(path: Path | str) -> str:
    """`path` relative to the working directory when it lies below it (as users type it),
    else absolute."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
